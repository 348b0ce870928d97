// The host's monotonic clock as the app sees it: Stopwatch.GetTimestamp on Linux reads
// clock_gettime(CLOCK_MONOTONIC), in nanoseconds (Stopwatch.Frequency is 10^9). A container
// without a time namespace shares that clock with the host, so the harness can put the app's
// instants (Main, ready) on the same line as its own start request.
using System.Diagnostics;
using System.Globalization;

static class MonotonicClock
{
    /// <summary>Nanoseconds on CLOCK_MONOTONIC now.</summary>
    public static long Nanoseconds()
    {
        var ticks = Stopwatch.GetTimestamp();
        return Stopwatch.Frequency == 1_000_000_000
            ? ticks
            : (long)(ticks * (1_000_000_000.0 / Stopwatch.Frequency));
    }

    /// <summary>The line that marks Main: <c>r2r-main-ns=&lt;ns&gt;</c>.</summary>
    public static string MainLine(long nanoseconds) =>
        "r2r-main-ns=" + nanoseconds.ToString(CultureInfo.InvariantCulture);

    /// <summary>The line that marks ready: <c>r2r-ready-ns=&lt;ns&gt;</c>.</summary>
    public static string ReadyLine(long nanoseconds) =>
        "r2r-ready-ns=" + nanoseconds.ToString(CultureInfo.InvariantCulture);
}
