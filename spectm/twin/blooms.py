"""Water-quality fields of the twin: two phytoplankton groups, a nutrient, CDOM and sediment.

Why: the spectra, the samples and the weather must come from one consistent state of the lake, so that
whatever a model learns (from Rrs, from weather, from time) is a real link in the simulated physics.

A daily step on the model grid (all numpy, vectorised over cells):

1. water temperature relaxes to an equilibrium set by air temperature and sunshine, faster where the
   water is shallow;
2. growth = mu_max x f(T) x f(light) x f(nutrient) - losses, for cyanobacteria (warm optimum, buoyant,
   so they see the light of the top 3 m) and for other phytoplankton (cool optimum, spring);
   a smooth random growth perturbation (AR(1) in time) makes patches;
3. the Maumee River discharge follows basin rain through a unit hydrograph (a wetter response in
   spring); its water brings nutrient, CDOM and sediment into the cells near the mouth; the Detroit
   River brings clear, nutrient-poor water in the north;
4. CDOM bleaches (40 d), sediment settles towards a wind-driven resuspension level (shallow cells more);
5. everything drifts with a wind-driven current (2 % of the wind plus a weak eastward through-flow,
   semi-Lagrangian) and spreads with a diffusivity that grows with wind speed (masked Gaussian).

What a sensor or a sampler sees at the surface: buoyant cyanobacteria accumulate near the surface in
calm weather and are mixed down by wind (``surface_factor``). Units: chl-a and phycocyanin mg m-3
(= ug/L), CDOM absorption at 440 nm 1/m, mineral suspended solids g m-3, nutrient ug P/L.

Pigment and toxin are decoupled, as in the lake. Why: if phycocyanin were cyanobacterial biomass times
a fixed ratio and microcystin that same biomass times a fixed seasonal quota, the 620 nm band would be
handed the answer and any method that reads (or masks) it would be favoured by construction. So:

- the PC:chl-a ratio of the cyanobacteria (``pc_ratio``) wanders in space and time (SD 0.25 dex, a
  week's memory, ~8 km patches: light and nutrient acclimation of phycobilisomes) and falls with
  biomass (x biomass^-0.45: dense surface colonies are high-light acclimated); the exponent and level
  are calibrated so that extracted PC/chl-a in August matches GLERL's (median 0.43, q10-q90 0.11-1.19);
- only part of the cyanobacterial biomass makes toxin (``toxic_share``): non-toxic Microcystis
  genotypes and PC-bearing non-toxic taxa (Dolichospermum, Planktothrix) hold phycocyanin too
  (Davis et al. 2009, Harmful Algae 8:715). The share wanders in space and time (logit SD ~0.9,
  ~3-week memory) and rises with the nutrient (toxic strains gain under high N and P);
- the toxin quota per toxic biomass peaks on a day drawn per season in 200-250 (``toxin_peak_doy``;
  GLERL peaks fell on days 202-249 in 2012-2024).

None of these is seen by the optics (which read chl-a, PC, CDOM and sediment only), so no band or
index carries the toxin directly; each carries part of it through the shared biomass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

from spectm.twin.config import DETROIT_MOUTH, MAUMEE_MOUTH, WATERS, WaterOptics
from spectm.twin.lake import ModelGrid
from spectm.twin.weather import Weather, smooth_noise

#: Background (lake) CDOM that decay relaxes towards, in the default water (``WATERS["lake_erie"]``).
CDOM_BACKGROUND = WATERS["lake_erie"].cdom_background
#: Fields kept for every day (what the granules and samples need, and the truth files keep).
FIELDS = ("chl_surface", "pc_surface", "cyano_surface", "chl_column", "cyano_column", "ag440", "tss",
          "water_temperature", "surface_factor", "toxic_share", "pc_ratio")  # fmt: skip
#: PC:chl-a of the cyanobacteria at 10 mg m-3 of them, its fall with biomass (dense, high-light surface
#: colonies hold fewer phycobilisomes per chl-a), and the SD of its log10 in space and time.
PC_RATIO_AT_10, PC_RATIO_BIOMASS_EXPONENT, PC_RATIO_SD_DEX = 0.65, -0.45, 0.25
PC_RATIO_MEMORY_DAYS, PC_RATIO_SCALE_KM = 7.0, 8.0
#: Toxic share of the cyanobacteria: mean logit, logit SD, memory (days), spatial scale (km), nutrient gain.
TOXIC_LOGIT_MEAN, TOXIC_LOGIT_SD, TOXIC_MEMORY_DAYS, TOXIC_SCALE_KM, TOXIC_NUTRIENT_GAIN = -0.6, 1.1, 30.0, 12.0, 0.4
TOXIC_NUTRIENT_REFERENCE = 12.0  # ug P/L, the lake's background nutrient
#: Cyanobacterial growth: temperature of half-maximal growth and its width (deg C); loss = a + b x biomass.
CYANO_T_HALF, CYANO_T_WIDTH, CYANO_LOSS = 22.0, 2.0, (0.04, 0.005)
#: Range of the day of year on which the toxin quota peaks (drawn once per season).
TOXIN_PEAK_RANGE = (205.0, 245.0)


@dataclass
class BloomHistory:
    """Daily fields (day, lat, lon) on the model grid, NaN on land, and the river discharge series."""

    days: pd.DatetimeIndex
    grid: ModelGrid
    fields: dict[str, np.ndarray]
    maumee_discharge: pd.Series  # m3/s
    toxin_peak_doy: float = 220.0  # this season's peak of the toxin quota

    def at(self, day) -> dict[str, np.ndarray]:
        """The fields of one day."""
        i = self.days.get_loc(pd.Timestamp(day).normalize())
        return {k: v[i] for k, v in self.fields.items()}


def maumee_discharge(weather: Weather) -> pd.Series:
    """Daily Maumee discharge (m3/s) from basin rain: baseflow + gamma unit hydrograph (peak ~2 d).

    Gain ~120 m3/s-days per mm of rain in spring (wet soils, ~35 % runoff of a 16,400 km2 watershed),
    falling to ~35 in late summer; baseflow is higher in spring. Twin-only values.
    """
    doy = weather.days.day_of_year.to_numpy(float)
    lags = np.arange(12.0)
    hydrograph = lags**1.5 * np.exp(-lags / 1.3)
    hydrograph /= hydrograph.sum()
    gain = 120.0 * (0.3 + 0.7 * np.exp(-(((doy - 110.0) / 50.0) ** 2)))
    effective = weather.basin["precip_mm"].to_numpy() * gain
    runoff = np.convolve(effective, hydrograph)[: doy.size]
    base = 30.0 + 80.0 * np.exp(-(((doy - 90.0) / 60.0) ** 2))
    return pd.Series(base + runoff, index=weather.days, name="maumee_discharge")


class _Transport:
    """Semi-Lagrangian advection and masked diffusion on one grid (precomputed indices)."""

    def __init__(self, grid: ModelGrid):
        self.grid = grid
        self.water = grid.water
        _, (self.fill_rows, self.fill_cols) = ndimage.distance_transform_edt(~grid.water, return_indices=True)
        rows, cols = np.indices(grid.shape)
        self.rows, self.cols = rows.astype(float), cols.astype(float)
        self.water_f = grid.water.astype(float)

    def fill_land(self, field: np.ndarray) -> np.ndarray:
        return field[self.fill_rows, self.fill_cols]

    def step(self, fields: dict[str, np.ndarray], u: float, v: float, diffusivity: float, dt_s: float) -> None:
        """Move ``fields`` (in place) with a uniform current (u east, v north; m/s) and diffusivity (m2/s)."""
        km = self.grid.pixel_km * 1000.0
        back_rows = self.rows - v * dt_s / km
        back_cols = self.cols - u * dt_s / km
        sigma = np.sqrt(2.0 * diffusivity * dt_s) / km
        weight = ndimage.gaussian_filter(self.water_f, sigma, mode="nearest")
        for name, field in fields.items():
            moved = ndimage.map_coordinates(self.fill_land(field), [back_rows, back_cols], order=1, mode="nearest")
            spread = ndimage.gaussian_filter(moved * self.water_f, sigma, mode="nearest") / np.maximum(weight, 1e-9)
            field[...] = np.where(self.water, spread, 0.0)


def _river_zones(grid: ModelGrid, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(Maumee mouth cells, Detroit mouth cells, Maumee mouth volume m3): where the rivers enter the basin."""
    water = grid.water
    maumee_zone = water & (grid.km_from(*MAUMEE_MOUTH) <= max(4.0, 1.1 * grid.pixel_km))
    detroit_zone = water & (grid.km_from(*DETROIT_MOUTH) <= max(6.0, 1.1 * grid.pixel_km))
    if not maumee_zone.any() or not detroit_zone.any():
        raise ValueError("twin grid: no water cell near the Maumee or Detroit mouth; is the pixel size too coarse?")
    maumee_volume = float((depth * maumee_zone).sum()) * (grid.pixel_km * 1000.0) ** 2
    return maumee_zone, detroit_zone, maumee_volume


def _initial_state(shape: tuple[int, int], water: np.ndarray, optics: WaterOptics) -> dict[str, np.ndarray]:
    """Late-winter fields: little cyanobacteria, nutrients stocked, the water body's own CDOM and sediment."""
    state = {
        "cyano": np.full(shape, 0.3), "other": np.full(shape, 4.0), "nutrient": np.full(shape, 25.0),
        "ag440": np.full(shape, optics.cdom_initial), "tss": np.full(shape, optics.tss_initial),
    }  # fmt: skip
    for field in state.values():
        field *= water
    return state


def _mean_light(srad: float, kd: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """The mean shortwave over a layer (W m-2) under attenuation ``kd``."""
    return srad * (1.0 - np.exp(-kd * layer)) / (kd * layer)


def _grow(state: dict, water_temp: np.ndarray, depth: np.ndarray, srad: float, growth_noise: np.ndarray) -> None:
    """One day of growth, losses and nutrient recycling (in place): cyanobacteria win in warm, calm, lit water."""
    cyano, other, nutrient = state["cyano"], state["other"], state["nutrient"]
    kd = 0.4 + 0.015 * (cyano + other) + 0.05 * state["tss"] + 0.3 * state["ag440"]
    light_other = _mean_light(srad, kd, depth)
    light_cyano = _mean_light(srad, kd, np.minimum(depth, 3.0))
    f_nutrient = nutrient / (nutrient + 8.0)
    f_temp_cyano = 1.0 / (1.0 + np.exp(-(water_temp - CYANO_T_HALF) / CYANO_T_WIDTH)) * np.exp(-np.maximum(water_temp - 29.0, 0.0) ** 2 / 8.0)
    f_temp_other = np.exp(-(((water_temp - 17.0) / 9.0) ** 2))
    mu_cyano = np.maximum(0.8 * f_temp_cyano * light_cyano / (light_cyano + 30.0) * f_nutrient + growth_noise[0], 0.0)
    mu_other = np.maximum(0.75 * f_temp_other * light_other / (light_other + 30.0) * f_nutrient + growth_noise[1], 0.0)
    loss_cyano = CYANO_LOSS[0] + CYANO_LOSS[1] * cyano
    loss_other = 0.10 + 0.004 * other + 0.002 * water_temp
    gross = mu_cyano * cyano + mu_other * other
    lost = loss_cyano * cyano + loss_other * other
    cyano += (mu_cyano - loss_cyano) * cyano
    other += (mu_other - loss_other) * other
    release = 0.6 / depth / (1.0 + np.exp(-(water_temp - 18.0) / 1.5))  # warm-sediment P release
    nutrient += -0.7 * gross + 0.4 * lost + release + 0.02 * (12.0 - nutrient)
    np.maximum(nutrient, 0.5, out=nutrient)
    np.maximum(cyano, 0.01, out=cyano)
    np.maximum(other, 0.2, out=other)


def _exchange_rivers(state: dict, maumee_zone, detroit_zone, maumee_volume: float, flow: float,
                     optics: WaterOptics) -> None:
    """Exchange a fraction of the mouth cells' water with river water (in place); the Maumee scales with flow."""
    exchange = min(0.8, flow * 86400.0 / maumee_volume)
    river = {"cyano": 0.1, "other": 8.0, "nutrient": 100.0 + 0.15 * flow,
             "ag440": optics.river_cdom[0] + optics.river_cdom[1] * flow,
             "tss": optics.river_tss[0] + optics.river_tss[1] * flow}  # fmt: skip
    detroit = {"cyano": 0.05, "other": 2.5, "nutrient": 8.0, "ag440": optics.north_inflow_cdom,
               "tss": optics.north_inflow_tss}  # fmt: skip
    for name, field in state.items():
        field += maumee_zone * exchange * (river[name] - field)
        field += detroit_zone * 0.6 * (detroit[name] - field)


def _bleach_and_resuspend(state: dict, depth: np.ndarray, wind: float, optics: WaterOptics) -> None:
    """CDOM bleaches toward the background; sediment settles, or is stirred up by wind in shallow water."""
    ag = state["ag440"]
    ag += (optics.cdom_background - ag) / optics.cdom_bleaching_days
    resuspended = optics.resuspension_floor + optics.resuspension_gain * max(wind - 3.0, 0.0) ** 1.5 * (4.0 / depth)
    tss = state["tss"]
    tss += np.where(resuspended > tss, 0.5, 0.35) * (resuspended - tss)


def _surface_snapshot(state: dict, depth: np.ndarray, wind: float, water_temp: np.ndarray,
                      pigment_noise: np.ndarray, toxic_noise: np.ndarray) -> dict[str, np.ndarray]:
    """What a satellite and a sampler see: calm water floats cyanobacteria up, pigment and toxin ratios vary."""
    surface = 1.0 + 0.15 * depth * np.exp(-wind / 2.5)
    cyano_surface = state["cyano"] * surface
    pc_ratio = (PC_RATIO_AT_10 * (np.maximum(cyano_surface, 0.1) / 10.0) ** PC_RATIO_BIOMASS_EXPONENT
                * 10 ** (PC_RATIO_SD_DEX * pigment_noise))  # fmt: skip
    nutrient_term = TOXIC_NUTRIENT_GAIN * np.log(state["nutrient"].clip(1.0) / TOXIC_NUTRIENT_REFERENCE)
    toxic_share = 1.0 / (1.0 + np.exp(-(TOXIC_LOGIT_MEAN + TOXIC_LOGIT_SD * toxic_noise + nutrient_term)))
    return {
        "chl_surface": cyano_surface + state["other"], "pc_surface": cyano_surface * pc_ratio,
        "toxic_share": toxic_share, "pc_ratio": pc_ratio,
        "cyano_surface": cyano_surface, "chl_column": state["cyano"] + state["other"],
        "cyano_column": state["cyano"], "ag440": state["ag440"], "tss": state["tss"],
        "water_temperature": water_temp, "surface_factor": surface,
    }  # fmt: skip


def simulate_blooms(grid: ModelGrid, weather: Weather, start, end, rng: np.random.Generator,
                    optics: WaterOptics = WATERS["lake_erie"]) -> BloomHistory:  # fmt: skip
    """Integrate the fields daily from ``start`` to ``end`` (inclusive) under ``weather``.

    ``optics`` sets the CDOM and sediment regime (river loads, bleaching, resuspension); the biology,
    transport and random draws are the same for every water body.
    """
    days = pd.date_range(start, end, freq="D")
    water = grid.water
    depth = np.where(water, grid.depth_m, 1.0)
    shape = grid.shape
    basin = weather.basin.loc[days]
    discharge = maumee_discharge(weather).loc[days]
    transport = _Transport(grid)
    maumee_zone, detroit_zone, maumee_volume = _river_zones(grid, depth)
    state = _initial_state(shape, water, optics)
    water_temp = np.full(shape, 6.0)
    sigma_cells = 8.0 / grid.pixel_km
    toxin_peak = float(rng.uniform(*TOXIN_PEAK_RANGE))
    pigment_noise = smooth_noise(rng, shape, PC_RATIO_SCALE_KM / grid.pixel_km)
    toxic_noise = smooth_noise(rng, shape, TOXIC_SCALE_KM / grid.pixel_km)
    growth_noise = np.zeros((2, *shape))

    out = {name: np.full((days.size, *shape), np.nan, np.float32) for name in FIELDS}
    for t, day in enumerate(days):
        air = basin["tmean_c"].iloc[t]
        srad = basin["srad"].iloc[t]
        wind = basin["wind_speed"].iloc[t]
        wu, wv = basin["wind_u"].iloc[t], basin["wind_v"].iloc[t]

        equilibrium = air + 2.5 + 0.01 * (srad - 200.0)  # sunlit water runs warmer than the air
        water_temp += (equilibrium - water_temp) / (2.0 + 0.6 * depth)
        growth_noise = 0.8 * growth_noise + 0.6 * 0.08 * smooth_noise(rng, (2, *shape), sigma_cells)
        _grow(state, water_temp, depth, srad, growth_noise)
        _exchange_rivers(state, maumee_zone, detroit_zone, maumee_volume, discharge.iloc[t], optics)
        _bleach_and_resuspend(state, depth, wind, optics)
        transport.step(state, u=0.02 * wu + 0.03, v=0.02 * wv - 0.01, diffusivity=30.0 + 8.0 * wind**2, dt_s=86400.0)

        pigment_noise = _ar1_field(rng, pigment_noise, PC_RATIO_MEMORY_DAYS, PC_RATIO_SCALE_KM / grid.pixel_km)
        toxic_noise = _ar1_field(rng, toxic_noise, TOXIC_MEMORY_DAYS, TOXIC_SCALE_KM / grid.pixel_km)
        for name, values in _surface_snapshot(state, depth, wind, water_temp, pigment_noise, toxic_noise).items():
            out[name][t] = np.where(water, values, np.nan)
    return BloomHistory(days=days, grid=grid, fields=out, maumee_discharge=discharge, toxin_peak_doy=toxin_peak)


def _ar1_field(rng: np.random.Generator, previous: np.ndarray, memory_days: float, sigma_cells: float) -> np.ndarray:
    """One daily step of a unit-variance, spatially smooth AR(1) field with e-folding ``memory_days``."""
    phi = np.exp(-1.0 / memory_days)
    return phi * previous + np.sqrt(1.0 - phi**2) * smooth_noise(rng, previous.shape, sigma_cells)
