"""The one error type for bad user input: its message is a single line that
names the field and what is allowed, so every CLI can print it and exit 2."""


class ConfigError(ValueError):
    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}" if field else problem)


def unknown_name(field: str, value, known) -> ConfigError:
    return ConfigError(field, f"unknown value {value!r}; allowed: {', '.join(sorted(map(str, known)))}")
