"""Staff pages of crm: contacts, segments, advisors, imports. Thin: forms in, services out."""
