// `pv zoo --isolate`: each entry runs in a child `pv zoo --only FILE --json`, so a fault no .NET process survives
// (a stack overflow in plugin code) kills only that child. Its entry is reported as crashed, naming the file, the
// backend and the innermost frame the runtime printed, and counts as a plugin fault (exit 4); a child that ended
// by itself gives its entries back through its JSON (or, without one, its first error line), and any failure
// code it ended with (2, 3, 4, 130) joins the sweep's.
using Pv.Engine;
using Pv.Scenarios.Litmus;
using Pv.Scenarios.Running;

namespace Pv.Cli.Commands;

/// <summary>Zoo entries run in child processes.</summary>
internal static class ZooIsolation
{
    /// <summary>
    /// Runs the entry <paramref name="file"/> in a child <c>pv zoo --only</c> and reads its JSON; a child that died is an
    /// entry whose error says so (a plugin fault, exit 4), a child's own failure code joins <paramref name="exits"/>.
    /// </summary>
    public static IEnumerable<ZooEntry> Run(string file, string config, string? backend, double? timeLimit, System.Collections.Concurrent.ConcurrentBag<int> exits)
    {
        var args = new List<string> { "zoo", "--dir", Path.GetDirectoryName(file)!, "--only", Path.GetFileName(file), "--json", "--config", config };
        if (backend is { } b) args.AddRange(["--backend", b]);
        if (timeLimit is { } t) args.AddRange(["--time-limit", t.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (exit, output, error) = ChildProcess.Run(args, Path.GetTempPath());
        bool ended = ChildProcess.PvCodes.Contains(exit);
        // A child that died is a plugin fault (exit 4) of the sweep; one that ended by itself brings its own failure code.
        if (!ended) exits.Add(PvExitCode.PluginFault);
        else if (exit is not (PvExitCode.Ok or PvExitCode.Violation)) exits.Add(exit);
        if (ended && output.TrimStart().StartsWith('['))
            return System.Text.Json.JsonDocument.Parse(output).RootElement.EnumerateArray().Select(e => FromJson(e, file)).ToList();
        var lines = error.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        // The runtime's last words name the innermost frame: for a stack overflow in a plugin, the plugin's method.
        string where = lines.FirstOrDefault(l => l.StartsWith("at ", StringComparison.Ordinal)) is { } frame ? $" ({frame})" : "";
        string backendName = TryBackend(file) ?? "?";
        return [new ZooEntry(file, Path.GetFileNameWithoutExtension(file), backendName, null, null, 0, clock.Elapsed, ended
            ? lines.FirstOrDefault() ?? $"exit {exit}"
            : $"the process running {Path.GetFileName(file)} on {backendName} died (exit {exit}; a stack overflow in plugin code ends a .NET process): {lines.FirstOrDefault()}{where}")
            {
                // What stopped it, by the child's code; bad input (2) is an ordinary entry error.
                Stopped = !ended ? "crashed" : exit switch
                {
                    PvExitCode.PluginFault => "plugin-fault",
                    PvExitCode.InternalError => "internal-error",
                    PvExitCode.Interrupted => "interrupted",
                    _ => null,
                },
            }];
    }

    /// <summary>The backend the entry names, for the report of a child that died; null if the file does not parse.</summary>
    private static string? TryBackend(string file)
    {
        try
        {
            return ScenarioParser.ParseFile(file).Backend;
        }
        catch (ScenarioException)
        {
            return null;
        }
    }

    private static ZooEntry FromJson(System.Text.Json.JsonElement e, string file)
    {
        static Verdict? Parse(string? text) => text is not null && Verdicts.TryParse(text, out var v) ? v : null;
        string found = e.GetProperty("found").GetString()!;
        return new ZooEntry(file, e.GetProperty("entry").GetString()!, e.GetProperty("backend").GetString()!, Parse(e.GetProperty("expected").GetString()),
            Parse(found), e.GetProperty("schedules").GetInt64(), TimeSpan.FromMilliseconds(e.GetProperty("ms").GetDouble()), e.GetProperty("error").GetString())
        {
            Stopped = found == "plugin-fault" ? found : null,
            ViolatingSchedule = e.GetProperty("schedule") is { ValueKind: System.Text.Json.JsonValueKind.Array } ids ? [.. ids.EnumerateArray().Select(id => id.GetInt32())] : null,
        };
    }
}
