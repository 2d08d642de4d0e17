"""The media library: files uploaded once, their WhatsApp media ids kept per number with their
expiry and reused by messages, campaigns, template headers and inbox replies."""
