"""Domain errors: raised by services, turned into clear 4xx responses by the API."""


class DomainError(Exception):
    """A request that the rules refuse. `code` is stable and machine-readable."""

    code = "invalid_request"
    status_code = 400

    def __init__(self, message: str, *, code: str | None = None, details=None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class InvalidTransition(DomainError):
    code = "invalid_transition"
    status_code = 409


class Conflict(DomainError):
    code = "conflict"
    status_code = 409
