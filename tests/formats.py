"""Tiny hand-made files for the format tests, built with netCDF4/csv directly (not with spectm writers).

They follow the public formats (``book/sources.md``, with the primary sources) so that a reader bug and
a writer bug cannot cancel out.
"""

from __future__ import annotations

import netCDF4
import numpy as np

from spectm.bands import oci_rrs_nominal

DATASHARE_HEADER = (
    "Date,Site,Station_Depth_m,Sample_Depth_m,Sample_Depth_category,Arrival_Time,Departure_Time,Lat_deg,"
    "Long_deg,Wind_speed_ms-1,Sky,Secchi_Depth_m,Temp_C,SpCond_uScm-1,BeamAtten_m-1,Transmiss_pct,DO_mgL-1,"
    "PAR_uEcm-2s-1,Turbidity_NTU,Particulate_Microcystin_ugL-1,Dissolved_Microcystin_ugL-1,Extracted_PC_ugL-1,"
    "Extracted_CHLa_ugL-1,Total_cyanobacteria_genes_copiesmL-1,mycE_genes_copiesmL-1"
)

NCEI_2012_HEADER = (
    "Date,Site,Station Depth (m),Sample Depth (m),Sample Depth (category),Local Time (Eastern Time Zone),"
    "Latitude (decimal deg),Longitude (decimal deg),Wind speed (knots),Wave Height (ft),Sky,Secchi Depth (m),"
    "Sample Temperature (\u00b0C),CTD Temperature (\u00b0C),CTD Specific Conductivity (\u00b5S/cm),"
    "CTD Beam Attenuation (m-1),CTD Tramission (%),CTD Dissolved Oxygen (mg/L),"
    "CTD Photosynthetically Active Radiation (\u00b5E/m2/s),Turbidity (NTU),Particulate Microcystin (\u00b5g/L),"
    "Dissolved Microcystin (\u00b5g/L),Extracted Phycocyanin (\u00b5g/L),Extracted Chlorophyll a (\u00b5g/L)"
)

SNAKE_2020_HEADER = (
    "date,station_name,station_depth_m,sample_depth_m,sample_depth_category,time,lat,lon,wind_speed,wave_height,"
    "sky,secchi_depth,ctd_temp,ctd_specific_conductivity,ctd_beam_attenuation,ctd_transmission,"
    "ctd_dissolved_oxygen,ctd_par,turbidity,particulate_microcystin,dissolved_microcystin,extracted_phycocyanin,"
    "extracted_chla"
)


def write_csv(path, header: str, rows: list[str], encoding: str = "utf-8") -> None:
    """Header plus rows with CRLF line ends, as the GLERL files have."""
    with open(path, "wb") as handle:
        handle.write(("\r\n".join([header, *rows]) + "\r\n").encode(encoding))


def build_minimal_l2(path, rrs_packed: np.ndarray, lat: np.ndarray, lon: np.ndarray, flags: np.ndarray,
                     layout: str = "A", band_values=None) -> None:
    """A bare L2 AOP file: only the groups and variables a reader needs, in the real layout.

    ``rrs_packed`` is int16 (lines, pixels, bands) as stored; ``band_values`` overrides the wavelength list.
    """  # fmt: skip
    lines, pixels, bands = rrs_packed.shape
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.createDimension("number_of_lines", lines)
        nc.createDimension("pixels_per_line", pixels)
        nc.createDimension("wavelength_3d", bands)
        nc.processing_version = "3.1" if layout == "A" else "3.2"
        nc.time_coverage_start = "2024-07-15T16:30:00.000Z"
        sbp = nc.createGroup("sensor_band_parameters")
        w3 = sbp.createVariable("wavelength_3d", "i4", ("wavelength_3d",), fill_value=np.int32(-32767))
        w3[:] = oci_rrs_nominal() if band_values is None or layout == "B" else band_values
        geo = nc.createGroup("geophysical_data")
        band_dim = "wavelength_3d"
        if layout == "B":
            geo.createDimension("wavelength", bands)
            wl = geo.createVariable("wavelength", "f4", ("wavelength",), fill_value=np.float32(-32767))
            wl[:] = np.asarray(band_values, dtype=np.float32)
            band_dim = "wavelength"
        rrs = geo.createVariable("Rrs", "i2", ("number_of_lines", "pixels_per_line", band_dim),
                                 fill_value=np.int16(-32767))  # fmt: skip
        rrs.set_auto_maskandscale(False)
        rrs.scale_factor = np.float32(2e-06)
        rrs.add_offset = np.float32(0.05)
        rrs.units = "sr^-1"
        rrs[:] = rrs_packed
        fl = geo.createVariable("l2_flags", "i4", ("number_of_lines", "pixels_per_line"))
        fl[:] = flags.astype(np.int32)
        nav = nc.createGroup("navigation_data")
        for name, values in (("latitude", lat), ("longitude", lon)):
            var = nav.createVariable(name, "f4", ("number_of_lines", "pixels_per_line"), fill_value=np.float32(-999.0))
            var[:] = values
