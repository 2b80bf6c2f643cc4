// Live progress of a long command (explore, ab, zoo, soak). A WorkTally counts what the command's workers report
// (units done of the total, what was found so far): lock-free, allocation-free and never going backwards, so a worker
// thread pays a few interlocked reads and writes per report and nothing is drawn from its thread. LiveProgress draws a
// tally on an interactive console (Spectre.Console's live progress: bar and percentage, then a line with the count,
// rate, time left and what was found so far), refreshed from Spectre's own render thread and a 100 ms timer; it is used only when the output is a terminal
// (CommandSupport decides), so redirected output, --json and the tests' writers get exactly what they got before.
// When the command is interrupted the tally says what completed, for the summary Ctrl-C prints.
using System.Diagnostics;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Pv.Cli;

/// <summary>What a command has done of its work, reported from any thread.</summary>
/// <param name="total">Units of work the command runs.</param>
/// <param name="unit">What a unit is, plural: "schedules", "entries".</param>
/// <param name="found">What a found thing is, singular and plural: ("violation", "violations").</param>
/// <param name="finished">
/// The units finished for good, when the reports also count work in flight (an explore chunk being searched, lost if a
/// stop cuts it short); null when every report counts finished units only.
/// </param>
internal sealed class WorkTally(long total, string unit, (string One, string Many) found, Func<long>? finished = null)
{
    private long _done;
    private int _found;
    private int _stopping;

    /// <summary>Units of work in all.</summary>
    public long Total { get; } = total;

    /// <summary>What a unit is, plural.</summary>
    public string Unit { get; } = unit;

    /// <summary>Units done so far (the largest count reported).</summary>
    public long Done => Interlocked.Read(ref _done);

    /// <summary>Things found so far (the largest count reported).</summary>
    public int Found => Volatile.Read(ref _found);

    /// <summary>Whether the command was asked to stop after the work in flight (the first Ctrl-C).</summary>
    public bool Stopping => Volatile.Read(ref _stopping) != 0;

    /// <summary>Records that the command will stop after the work in flight.</summary>
    public void Stop() => Volatile.Write(ref _stopping, 1);

    /// <summary>
    /// Records <paramref name="done"/> units done and <paramref name="found"/> things found. Safe from any thread; reports
    /// may arrive out of order (workers finish in any order), so each count only ever grows.
    /// </summary>
    public void Report(long done, int found)
    {
        for (long seen = Interlocked.Read(ref _done); done > seen; seen = Interlocked.Read(ref _done))
            if (Interlocked.CompareExchange(ref _done, done, seen) == seen) break;
        for (int seen = Volatile.Read(ref _found); found > seen; seen = Volatile.Read(ref _found))
            if (Interlocked.CompareExchange(ref _found, found, seen) == seen) break;
    }

    /// <summary>"12,000/40,000 schedules".</summary>
    public string Count => $"{Done:N0}/{Total:N0} {Unit}";

    /// <summary>"0 violations".</summary>
    public string FoundNow => $"{Found:N0} {(Found == 1 ? found.One : found.Many)}";

    /// <summary>What completed, for the message of an interrupted command: "12,000 of 40,000 schedules done, 0 violations so far".</summary>
    public string Summary => $"{finished?.Invoke() ?? Done:N0} of {Total:N0} {Unit} done, {FoundNow} so far";
}

/// <summary>Draws a <see cref="WorkTally"/> live on an interactive console while a command works.</summary>
internal static class LiveProgress
{
    /// <summary>How often the bar takes the tally's count (Spectre redraws at its own rate, 10 times a second).</summary>
    private static readonly TimeSpan Refresh = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Runs <paramref name="body"/> with <paramref name="tally"/> drawn on <paramref name="console"/>: <paramref name="title"/>,
    /// a bar and the percentage, and under them the count, the rate, the time left and what was found so far (a line of its
    /// own, so an 80-column terminal has room for it). The display stays when done unless <paramref name="clear"/>; it is
    /// ended (its last state drawn) when <paramref name="body"/> throws.
    /// </summary>
    public static T Run<T>(IAnsiConsole console, WorkTally tally, string title, bool clear, Func<T> body)
    {
        T result = default!;
        var line = new TallyLine(tally);
        console.Progress().AutoClear(clear).HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn())
            .UseRenderHook((bar, _) => new Rows(bar, line.Render()))
            .Start(ctx =>
            {
                var task = ctx.AddTask(Markup.Escape(title), maxValue: Math.Max(1, tally.Total));
                // The workers only count; the bar is moved from a timer, so a report costs them no lock and no allocation.
                using var timer = new Timer(_ => task.Value = tally.Done, null, TimeSpan.Zero, Refresh);
                try
                {
                    result = body();
                }
                finally
                {
                    // The last frame shows where the work ended, interrupted or not.
                    timer.Dispose();
                    task.Value = tally.Done;
                    ctx.Refresh();
                }
            });
        return result;
    }

    /// <summary>
    /// The line under the bar: the count, the rate (over the last seconds, so units taken from the store on --resume
    /// soon stop counting), the time left at that rate, and what was found; once stopping, the count and that the work in
    /// flight is finishing. Rendered on Spectre's render thread only.
    /// </summary>
    private sealed class TallyLine
    {
        /// <summary>How far back the rate looks, in seconds.</summary>
        private const double Window = 10;

        private readonly WorkTally _tally;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly Queue<(double At, long Done)> _samples = new();
        private double _lastSample;

        /// <summary>A line for <paramref name="tally"/>, its rate measured from now (a first frame drawn late still has one).</summary>
        public TallyLine(WorkTally tally)
        {
            _tally = tally;
            _samples.Enqueue((0, tally.Done));
        }

        public IRenderable Render()
        {
            double now = _clock.Elapsed.TotalSeconds;
            long done = _tally.Done;
            if (now - _lastSample >= 0.25)
            {
                _samples.Enqueue((now, done));
                _lastSample = now;
            }
            while (_samples.Count > 1 && now - _samples.Peek().At > Window) _samples.Dequeue();
            var (since, from) = _samples.Peek();
            double? rate = now - since >= 0.5 ? (done - from) / (now - since) : null;
            string speed = rate is { } r ? $"{r:N0}/s" : "-/s";
            string left = done >= _tally.Total ? "done" : rate is > 0 ? $"ETA {Eta((_tally.Total - done) / rate.Value)}" : "ETA -";
            // Stopping, the rate and time left no longer mean anything: the line says what happens instead (in 80 columns).
            return new Markup(_tally.Stopping
                ? $"  {Markup.Escape(_tally.Count)} · [yellow]finishing work in flight; Ctrl-C again: stop now[/]"
                : $"  {Markup.Escape(_tally.Count)} · {speed} · {left} · {Markup.Escape(_tally.FoundNow)}");
        }

        private static string Eta(double seconds) =>
            seconds >= 100 * 3600 ? ">99h" : TimeSpan.FromSeconds(Math.Ceiling(seconds)).ToString(@"h\:mm\:ss");
    }
}
