from tests.support.fake_openai import fake_openai  # noqa: F401  (fixture)
