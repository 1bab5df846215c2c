"""The researcher's side: who the researcher or the job is, and where its token may go.

IAP must see a person or a job's own service account (DESIGN.md, "Researchers' identity").
One module per responsibility:

* :mod:`.tokens`: Google-signed ID tokens (claims, lifetime) and the source protocol;
* :mod:`.token_endpoint`: the one caller of Google's OAuth token endpoint;
* :mod:`.stored_login`: where ``mlflowk8s login`` keeps its refresh token;
* :mod:`.sources`: which credentials mint tokens here (key file, login, metadata server);
* :mod:`.cache`: the process-wide current token per audience, refreshed before expiry;
* :mod:`.login_flow`: ``mlflowk8s login``, the installed-app flow with a loopback redirect;
* :mod:`.hosts`: which requests get a token (only the lab's hosts, never in clear).

The MLflow side (per-request auth through ``MLFLOW_TRACKING_AUTH=mlflowk8s``) lives in
:mod:`mlflowk8s.mlflow_plugin`; OAuth client files are read by :mod:`mlflowk8s.oauth_client`.
"""
