"""One module per portal area; each renders what its JSON twin in the API returns.

``PAGE_MODULES`` lists the modules whose ``router`` the portal mounts; a domain adds its own
module here (and, if it has a sidebar entry, a line to ``sentier.web.app.NAV``).
"""

PAGE_MODULES = [
    "sentier.web.pages.catalog",
    "sentier.web.pages.admin",
    "sentier.web.pages.policy",
    "sentier.web.pages.aiops",
    "sentier.web.pages.events",
    "sentier.web.pages.greenops",
    "sentier.web.pages.finops",
    "sentier.web.pages.detect",
]
