// The web API sample: JSON from compiled-in data, on http://127.0.0.1:$PORT (loopback only).
// Prints the monotonic clock at Main, and a ready line with the clock once it listens. Main
// itself touches nothing but the clock (the web host is in its own method, so compiling Main
// loads no ASP.NET Core assembly): the instant at Main is the same point as the console app's.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json.Serialization;

Console.WriteLine(MonotonicClock.MainLine(MonotonicClock.Nanoseconds()));
WebApp.Run(args);

static class WebApp
{
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void Run(string[] args)
    {
        var port = Environment.GetEnvironmentVariable("PORT") ?? "8080";
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();

        // JSON through a source-generated context, so the same code runs trimmed and as Native AOT.
        app.MapGet("/", () => Results.Json(new Dictionary<string, string>
        {
            ["app"] = "r2r-webapi",
            ["runtime"] = RuntimeInformation.FrameworkDescription,
        }, AppJson.Default.DictionaryStringString));
        app.MapGet("/releases", () => Results.Json(Releases.All, AppJson.Default.ReleaseArray));

        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var ready = MonotonicClock.Nanoseconds();
            Console.WriteLine($"r2r-ready jit_methods={System.Runtime.JitInfo.GetCompiledMethodCount()} port={port}");
            Console.WriteLine(MonotonicClock.ReadyLine(ready));
        });
        app.Run();
    }
}

[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(Release[]))]
partial class AppJson : JsonSerializerContext;
