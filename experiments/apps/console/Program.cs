// The console sample: takes the monotonic clock at Main, does its work (one line with the
// number of methods the JIT compiled: low when precompiled code is used), takes the clock
// again at ready (its work done), prints both and exits 0. Main itself touches nothing but the
// clock, so that the instant at Main is the same point for every app.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

var main = MonotonicClock.Nanoseconds();
var result = ConsoleWork.Result();
var ready = MonotonicClock.Nanoseconds();
Console.WriteLine(MonotonicClock.MainLine(main));
Console.WriteLine(result);
Console.WriteLine(MonotonicClock.ReadyLine(ready));
return 0;

static class ConsoleWork
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static string Result() =>
        $"r2r-console-ok jit_methods={System.Runtime.JitInfo.GetCompiledMethodCount()} " +
        $"runtime={RuntimeInformation.FrameworkDescription}";
}
