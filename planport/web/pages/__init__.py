"""The pages, grouped by feature as services are; each page module has its `router`.

Pages call services only (never store, engine or connectors), and format with
`web.templating` and `web.formatting`."""
