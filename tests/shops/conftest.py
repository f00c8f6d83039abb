from tests.catalog_support import auth_headers, staff

__all__ = ["auth_headers", "staff"]
