"""pytest plugin for ``make test-any-day``: run the collected tests in reverse order.

Why: a test that passes only after another one has run (a shared cache, a file left behind, a module
global) passes in the usual order and fails here.
"""


def pytest_collection_modifyitems(session, config, items):
    items.reverse()
