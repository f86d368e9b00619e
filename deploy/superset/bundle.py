"""Import the repository's dashboards into Superset, or export Superset's dashboards as a bundle.

Run by Superset's own Python (`.venv-superset/bin/python`), never by the project's: `pipelines/dashboards.py` calls

    python deploy/superset/bundle.py prepare <dashboards dir> <admin user>  # migrate, roles, admin, import
    python deploy/superset/bundle.py import <dashboards dir> <admin user>   # URI of the marts in EDUWH_SUPERSET_MARTS_URI
    python deploy/superset/bundle.py export <zip file> <admin user>

`prepare` does in one process what `superset db upgrade`, `superset init`, the admin user (password in
EDUWH_SUPERSET_ADMIN_PASSWORD) and `import` would do in four: each start of Superset's Python costs seconds.

with SUPERSET_CONFIG_PATH pointing at deploy/superset/superset_config.py.

The repository keeps an export bundle unzipped (metadata.yaml, databases/, datasets/, charts/, dashboards/). Import zips
it in memory and runs Superset's own v1 import commands, each with overwrite: the database (its URI, with the password,
filled in here from the environment and never written to disk), then the datasets, the charts and the dashboards, so
a chart or dataset changed in the repository replaces the one in Superset. (`superset import-dashboards` would
overwrite the dashboards only and keep older charts and datasets of the same uuid.)
"""

from __future__ import annotations

import io
import os
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import yaml

URI_PLACEHOLDER = "__EDUWH_MARTS_URI__"
SCHEMA_PLACEHOLDER = "marts"
MARTS_URI_ENV = "EDUWH_SUPERSET_MARTS_URI"
MARTS_SCHEMA_ENV = "EDUWH_SUPERSET_MARTS_SCHEMA"
ADMIN_PASSWORD_ENV = "EDUWH_SUPERSET_ADMIN_PASSWORD"


def _zipped(directory: Path) -> bytes:
    """The directory as an export ZIP (one root folder, as Superset writes them)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(directory.rglob("*.yaml")):
            bundle.write(path, f"dashboard_export/{path.relative_to(directory).as_posix()}")
    return buffer.getvalue()


def _contents(directory: Path, uri: str, schema: str) -> dict[str, str]:
    from superset.commands.importers.v1.utils import get_contents_from_bundle

    with zipfile.ZipFile(io.BytesIO(_zipped(directory))) as bundle:
        contents = get_contents_from_bundle(bundle)
    for name, text in list(contents.items()):
        if name.startswith("databases/"):
            config = yaml.safe_load(text)
            if config["sqlalchemy_uri"] != URI_PLACEHOLDER:
                raise SystemExit(f"{name}: sqlalchemy_uri must be {URI_PLACEHOLDER} (filled in at import)")
            config["sqlalchemy_uri"] = uri
            contents[name] = yaml.safe_dump(config, allow_unicode=True)
        elif name.startswith("datasets/") and schema != SCHEMA_PLACEHOLDER:
            config = yaml.safe_load(text)
            if config.get("schema") == SCHEMA_PLACEHOLDER:
                config["schema"] = schema
            contents[name] = yaml.safe_dump(config, allow_unicode=True)
    return contents


def import_bundle(directory: Path, username: str) -> None:
    from superset import security_manager
    from superset.commands.chart.importers.v1 import ImportChartsCommand
    from superset.commands.dashboard.importers.v1 import ImportDashboardsCommand
    from superset.commands.database.importers.v1 import ImportDatabasesCommand
    from superset.commands.dataset.importers.v1 import ImportDatasetsCommand
    from superset.utils.core import override_user

    contents = _contents(directory, os.environ[MARTS_URI_ENV], os.environ.get(MARTS_SCHEMA_ENV, SCHEMA_PLACEHOLDER))
    user = security_manager.find_user(username=username)
    if user is None:
        raise SystemExit(f"no Superset user {username!r}")
    steps = [
        (ImportDatabasesCommand, "Database"),
        (ImportDatasetsCommand, "SqlaTable"),
        (ImportChartsCommand, "Slice"),
        (ImportDashboardsCommand, "Dashboard"),
    ]
    timestamp = datetime.now(tz=UTC).isoformat()
    with override_user(user):
        for command, model in steps:
            metadata = {"version": "1.0.0", "type": model, "timestamp": timestamp}
            command({**contents, "metadata.yaml": yaml.safe_dump(metadata)}, overwrite=True).run()
    counts = {
        kind: sum(name.startswith(f"{kind}/") for name in contents) for kind in ("datasets", "charts", "dashboards")
    }
    print(f"imported {counts['dashboards']} dashboards, {counts['charts']} charts, {counts['datasets']} datasets")


def export_bundle(target: Path, username: str) -> None:
    from superset import security_manager
    from superset.commands.dashboard.export import ExportDashboardsCommand
    from superset.extensions import db
    from superset.models.dashboard import Dashboard
    from superset.utils.core import override_user

    with override_user(security_manager.find_user(username=username)):
        ids = [id_ for (id_,) in db.session.query(Dashboard.id).order_by(Dashboard.id).all()]
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as bundle:
            for file_name, content in ExportDashboardsCommand(ids).run():
                bundle.writestr(f"dashboard_export/{file_name}", content())
    print(f"exported {len(ids)} dashboards to {target}")


def ensure_admin(username: str) -> None:
    """The admin user with the password of EDUWH_SUPERSET_ADMIN_PASSWORD: created, or its password reset (so the
    environment always says what the password is). The password never appears on a command line."""
    from superset import security_manager
    from superset.extensions import db

    password = os.environ[ADMIN_PASSWORD_ENV]
    user = security_manager.find_user(username=username)
    if user is None:
        role = security_manager.find_role("Admin")
        created = security_manager.add_user(
            username, "Администратор", "витрин", f"{username}@localhost", role, password
        )
        if not created:
            raise SystemExit(f"could not create the Superset user {username!r}")
        print(f"created admin user {username}")
    else:
        security_manager.reset_password(user.id, password)
        db.session.commit()
        print(f"admin user {username}: password set from {ADMIN_PASSWORD_ENV}")


def migrate_and_sync_roles() -> None:
    """`superset db upgrade` (the metadata database's migrations) and `superset init` (permissions and roles)."""
    from flask_migrate import upgrade
    from superset import appbuilder, security_manager
    from superset.extensions import db

    upgrade()
    appbuilder.add_permissions(update_perms=True)
    security_manager.sync_role_definitions()
    db.session.commit()
    print("metadata database migrated, roles synchronised")


def main(argv: list[str]) -> None:
    from superset.app import create_app

    action, path, username = argv
    if action not in ("prepare", "import", "export"):
        raise SystemExit(f"unknown action {action!r}: prepare, import or export")
    with create_app().app_context():
        if action == "prepare":
            migrate_and_sync_roles()
            ensure_admin(username)
        if action in ("prepare", "import"):
            import_bundle(Path(path), username)
        elif action == "export":
            export_bundle(Path(path), username)


if __name__ == "__main__":
    main(sys.argv[1:])
