// Package dashboard is drill serve's built-in SLO dashboard, served at /
// next to the API in both modes: server-rendered HTML with inline SVG
// charts, no script, no external asset.
//
// The index lists every plan with its schedule, next run, last verdict,
// its last runs (each a link to its HTML report) and each fault's latest
// recovery against its objective, above the share of drills passed per
// quarter. A page per plan charts each fault's recovery time over the
// plan's last runs against its objective, with the report trend's chart
// (pkg/report/html), and lists its runs with their reports.
//
// Browsers send no bearer header without a script, so a login form posts
// the token once and the dashboard keeps it in an HttpOnly, SameSite=Strict
// cookie; every request authenticates it through the same Authenticator as
// a bearer token and is authorized by the same Authorizer (list on
// drillplans and drillruns; get on a drillrun for its report).
//
// Finished runs never change, so the summary read from each one's report
// is cached by namespace and run; a page load reads only the reports of
// runs that finished since the last one.
package dashboard
