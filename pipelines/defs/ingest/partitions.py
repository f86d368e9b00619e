"""School years as Dagster partitions. A school year's partition is added by the sensor `raw_files_sensor`
(or by `make demo`) once a folder for it appears under data/raw/<source folder>/: no code change."""

import dagster as dg

school_year_partitions = dg.DynamicPartitionsDefinition(name="school_year")
