"""``docserve``: run the service, rebuild the model repository, send documents, manage versions.

Each package owns its commands (:mod:`docserve.api.cli`, :mod:`docserve.export.cli`,
:mod:`docserve.client.cli`); this module only mounts them, so a client-only install never has
to import the server or torch to parse ``docserve submit``.
"""

import typer

from docserve.api.cli import server_app
from docserve.client.cli import client_app
from docserve.export.cli import export_app

app = typer.Typer(help="docserve: document-analysis pipelines on NVIDIA Triton.", no_args_is_help=True)
app.add_typer(server_app)
app.add_typer(client_app)
app.add_typer(export_app, name="export")

if __name__ == "__main__":
    app()
