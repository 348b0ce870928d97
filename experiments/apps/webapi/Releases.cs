// The data the web API serves: compiled in, so a request never leaves the process.
record Release(string Version, string ReleaseDate, string Support, string EndOfSupport);

static class Releases
{
    public static readonly Release[] All =
    [
        new("6.0", "2021-11-08", "LTS", "2024-11-12"),
        new("7.0", "2022-11-08", "STS", "2024-05-14"),
        new("8.0", "2023-11-14", "LTS", "2026-11-10"),
        new("9.0", "2024-11-12", "STS", "2026-11-10"),
        new("10.0", "2025-11-11", "LTS", "2028-11-14"),
    ];
}
