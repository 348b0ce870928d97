// The console sample: reports how long the process took to reach Main, then one line with
// the number of methods the JIT compiled (low when precompiled code is used) and exits 0.
using System.Runtime.InteropServices;

Console.WriteLine(ProcessAge.Line());
Console.WriteLine(
    $"r2r-console-ok jit_methods={System.Runtime.JitInfo.GetCompiledMethodCount()} " +
    $"runtime={RuntimeInformation.FrameworkDescription}");
return 0;
