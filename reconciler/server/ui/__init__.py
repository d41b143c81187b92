"""The web UI (Keptn Bridge's job): environment board, sequence timelines, evaluations with
heat maps and trends, approvals, problems, config. Server-rendered HTML that reads without
JavaScript; `static/live.js` (served by us, no CDN) swaps in fresh content on Server-Sent
Events. Pure renderers (`board`, `sequences`, `evaluations`, …) turn data into escaped HTML;
`routes` is the aiohttp shell that gathers the data and checks access."""
