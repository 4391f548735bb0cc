"""Staff pages, one module per area. Thin: parse input, call a selector or a service, render.

Every view is wrapped in `base.staff_view`; patient data is read only through `pathways.access` (a test
walks these modules for raw lookups). Fragments for htmx and full pages share one template each.
"""
