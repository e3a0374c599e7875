"""The only code that speaks HTTP to Coupa: `CoupaClient` (base) and what it stands on.

Nothing here reads the database except through the rate limiter's store.
"""
