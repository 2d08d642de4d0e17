"""Contact import machinery: streaming readers (`readers`), row validation (`rows`) and the
batch writer (`writer`). `crm.services.imports` drives them for an `ImportJob`."""
