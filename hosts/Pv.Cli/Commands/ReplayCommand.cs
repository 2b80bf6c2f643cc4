// `pv replay TRACE [--trace] [--timeline]`: rebuilds the machine of a counterexample file and follows its schedule
// strictly (CounterexampleReplay), then prints the run: with --trace (what it prints unless --timeline alone is
// asked for) every step in order, who ran it and each event with its operands labelled in kernel terms; with
// --timeline a column per thread, a row per step; then the TLB and page-table entries of the violating address, the
// verdict against what the scenario expects, and the violation where the invariant broke. The exit code is run's and
// explore's: 0 when the replayed verdict is the expected one, 1 when not. A scenario file changed since, or a schedule
// that no longer fits the backend, is bad input (exit 2). --html FILE also writes the HTML view of the counterexample
// (CounterexampleHtml: the violation, the schedule by name, the replay command, a timeline column per thread).
using System.CommandLine;
using Pv.Engine;
using Pv.Engine.Sched;
using Pv.Scenarios.Reports;
using Pv.Scenarios.Running;

namespace Pv.Cli.Commands;

/// <summary>The <c>pv replay</c> command.</summary>
internal static class ReplayCommand
{
    public static Command Create(CommandSupport s)
    {
        var trace = new Argument<string>("TRACE") { Description = "A counterexample file written by pv explore." };
        var html = new Option<string>("--html") { Description = "Also write the counterexample as an HTML page to this file: the violation, the schedule, a timeline column per thread." };
        var command = new Command("replay", "Replay a counterexample step by step (--trace, the default) or as a timeline (--timeline).") { trace, s.Trace, s.Timeline, html, s.Config, s.Json };
        command.SetAction(parse => s.Guard(() =>
        {
            using var catalog = s.LoadCatalog(parse);
            string cxPath = s.Full(parse.GetValue(trace)!);
            var cx = Counterexample.Load(cxPath);
            Replay replay;
            try
            {
                replay = CounterexampleReplay.Run(cx, catalog, cxPath);
            }
            catch (ReplayDivergedException e)
            {
                // The schedule is the counterexample file's: a schedule that does not fit is a problem of that input, at its entry.
                throw new PvInputException($"{cxPath}: $.schedule[{e.Index}]: {e.Message} (the file was edited, or the backend's plugin changed since it was written?)", e);
            }
            var v = replay.Result.Report?.Violation;
            string? page = parse.GetValue(html) is { } h ? s.Full(h) : null;
            if (page is not null) CounterexampleHtml.Write(page, cx, replay, s.PvCommand(parse, "replay", cxPath));
            if (parse.GetValue(s.Json))
                s.WriteJson(new
                {
                    scenario = cx.Scenario, backend = cx.Backend, verdict = replay.Verdict, expected = replay.Expected, violation = v?.ToString(),
                    steps = CommandSupport.TraceJson(replay),
                    entries = replay.Entries,
                    threads = replay.Threads.Select(t => new { thread = t.Thread, steps = t.Steps.Select(e => e.ToString()) }),
                    html = page,
                });
            else
            {
                bool timeline = parse.GetValue(s.Timeline);
                s.Output.WriteLine($"replaying {cx.Scenario} on {cx.Backend}: {cx.Schedule.Count} steps{(cx.OmitThreads.Count + cx.OmitOps.Count > 0 ? $" (minimised: without {cx.OmittedText})" : "")}");
                s.Output.WriteLine();
                s.PrintTrace(replay, parse.GetValue(s.Trace) || !timeline, timeline);
                s.Output.WriteLine();
                s.Output.WriteLine("entries involved:");
                foreach (var e in replay.Entries) s.Output.WriteLine($"  {e.Where}: {e.Text}");
                s.Output.WriteLine();
                s.Output.WriteLine(CommandSupport.VerdictLine(replay.Verdict, replay.Expected));
                s.Output.WriteLine(v is null ? $"no violation: the run ended {replay.Result.Outcome}" : $"invariant broke at step {v.Step}: {v}");
                if (page is not null) s.Output.WriteLine($"html: {page}");
            }
            return PvExitCode.For(replay.Verdict, replay.Expected);
        }));
        return command;
    }
}
