"""Resources shared by the asset groups."""

from pathlib import Path

import dagster as dg

from pipelines.settings import Settings


class WarehouseResource(dg.ConfigurableResource):
    """Where the warehouse keeps its files (see pipelines/settings.py); the default comes from EDUWH_DATA_DIR."""

    data_dir: str

    @property
    def settings(self) -> Settings:
        return Settings(Path(self.data_dir))
