"""`--user-emails`: the demo's own people exist as Coupa users (by email and login)."""

from __future__ import annotations

from coupa.sandbox.testing import running_sandbox


def test_users_2_and_3_get_the_given_emails_and_keep_them_after_a_reset() -> None:
    with running_sandbox(
        rate=0, users=10, requisitions=5, user_emails="rita@demo.test, ada@demo.test"
    ) as sb:
        for _ in range(2):
            rita, ada = sb.record("users", 2), sb.record("users", 3)
            assert (rita["email"], rita["login"], rita["active"]) == (
                "rita@demo.test",
                "rita@demo.test",
                True,
            )
            assert ada["email"] == "ada@demo.test"
            assert sb.record("users", 1)["login"] == "spendflo.integration"
            sb.reset()
