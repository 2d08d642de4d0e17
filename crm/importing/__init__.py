"""Contact import machinery: streaming readers (`readers`), row validation (`rows`) and the
batch writer (`writer`). `crm.importing.jobs` drives them for an `ImportJob`."""
