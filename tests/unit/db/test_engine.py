"""The one sentence for a MySQL that refuses for a reason of configuration."""

from __future__ import annotations

import pytest
from pymysql.err import OperationalError
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError

from countq.config import Settings
from countq.db.engine import misconfiguration

MYSQL = Settings(mysql_host="db.example", mysql_port=3307, mysql_user="app", mysql_database="cq")


@pytest.mark.parametrize(
    ("code", "settings", "sentence"),
    [
        (2003, MYSQL, "cannot reach MySQL at db.example:3307: check MYSQL_HOST and MYSQL_PORT"),
        (
            1045,
            MYSQL,
            "MySQL at db.example:3307 refused the login of user 'app':"
            " check MYSQL_USER and MYSQL_PASSWORD",
        ),
        (
            1045,
            MYSQL.model_copy(update={"db_secret_arn": "arn:secret"}),
            "MySQL at db.example:3307 refused the login in DB_SECRET_ARN's secret: check it",
        ),
        (
            1049,
            MYSQL,
            "MySQL at db.example:3307 has no database 'cq' that user 'app' may use or create:"
            " check MYSQL_DATABASE, or create it",
        ),
        (
            2003,
            Settings(database_url="mysql+pymysql://u:p@h:1/d"),
            "cannot reach MySQL at h:1: check DATABASE_URL",
        ),
    ],
)
def test_sentences(code: int, settings: Settings, sentence: str) -> None:
    driver = OperationalError(code, "the server's words")
    wrapped = SQLAlchemyOperationalError("SELECT 1", {}, driver)
    assert str(misconfiguration(driver, settings)) == sentence
    assert str(misconfiguration(wrapped, settings)) == sentence


def test_other_errors_are_not_misconfigurations() -> None:
    assert misconfiguration(OperationalError(1213, "deadlock"), MYSQL) is None
    assert misconfiguration(ValueError("x"), MYSQL) is None
