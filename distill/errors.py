"""The one error type for bad user input: its message is a single line that
names the field and what is allowed, so every CLI can print it and exit 2."""


class ConfigError(ValueError):
    def __init__(self, field: str, problem: str):
        # both in args: Ray copies and pickles exceptions raised in trials
        super().__init__(field, problem)
        self.field = field
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}" if self.field else self.problem


def unknown_name(field: str, value, known) -> ConfigError:
    return ConfigError(field, f"unknown value {value!r}; allowed: {', '.join(sorted(map(str, known)))}")
