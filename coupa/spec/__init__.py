"""The project's own conformance validator for Coupa's R39 OpenAPI (Swagger 2.0) specs."""

from coupa.spec.validator import KNOWN_SPEC_ERRORS, SpecValidator, ValidationResult

__all__ = ["KNOWN_SPEC_ERRORS", "SpecValidator", "ValidationResult"]
