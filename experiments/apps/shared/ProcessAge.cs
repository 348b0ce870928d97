// How long the current process has been alive, read from the kernel: the process start time
// in /proc/self/stat (clock ticks since boot) against the monotonic clock. Resolution is one
// clock tick (10 ms on Linux), good enough to split a cold start into "before Main" and
// "after Main".
using System.Diagnostics;
using System.Globalization;

static class ProcessAge
{
    const double TicksPerSecond = 100.0; // USER_HZ on Linux

    public static double Milliseconds()
    {
        try
        {
            var stat = File.ReadAllText("/proc/self/stat");
            // Fields after the command name, which is in parentheses and may contain spaces.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // Field 22 of the file (starttime) is the 20th after the command name.
            var startSeconds = long.Parse(fields[19], CultureInfo.InvariantCulture) / TicksPerSecond;
            var nowSeconds = Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency;
            return (nowSeconds - startSeconds) * 1000.0;
        }
        catch (Exception)
        {
            return double.NaN;
        }
    }

    public static string Line() =>
        "r2r-time-to-main-ms=" + Milliseconds().ToString("F1", CultureInfo.InvariantCulture);
}
