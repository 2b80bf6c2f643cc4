// A replayed run as people read it: the step list (every step in order, who ran it, each event labelled in kernel
// terms, one per line) and the timeline (one fixed-width column per thread or interrupt context, rows = steps).
// Guarantees: no step is printed empty (a step that traced nothing says what it left its entity doing, and a run of
// such steps by one entity with the same note is one row, #8-9); the step of the violation is marked ">>"; no timeline
// line is wider than asked for unless the columns would be narrower than MinColumn (then each gets MinColumn), a column
// is no wider than its longest line, every line of one timeline is as wide as the others, and a cell cut short ends in
// "…"; plain text, no colour or control codes.
using Pv.Scenarios.Running;

namespace Pv.Scenarios.Reports;

/// <summary>Prints a <see cref="Replay"/> as a step list or a per-thread timeline.</summary>
public static class TraceText
{
    /// <summary>The narrowest a timeline column gets, however many columns share the width.</summary>
    public const int MinColumn = 16;

    private const string Cut = "…";

    // A counterexample file edited down to an empty schedule replays as a run of no step.
    private const string NoStep = "(the run took no step)";

    /// <summary>The steps of <paramref name="replay"/>, one line per event: <c>   #3   unmapper  set_pte addr=0x40000000 pte=none [table 0x5 #0]</c>.</summary>
    public static IEnumerable<string> Steps(Replay replay)
    {
        var rows = Rows(replay);
        if (rows.Count == 0)
        {
            yield return NoStep;
            yield break;
        }
        int stepWidth = rows.Max(r => r.Label.Length);
        int agentWidth = rows.Max(r => r.Agent.Length);
        foreach (var row in rows)
        {
            string head = $"{(row.Violation ? ">>" : "  ")} {row.Label.PadRight(stepWidth)}  {row.Agent.PadRight(agentWidth)}  ";
            yield return head + row.Lines[0];
            foreach (var more in row.Lines.Skip(1)) yield return new string(' ', head.Length) + more;
        }
    }

    /// <summary>
    /// The timeline of <paramref name="replay"/> in <paramref name="width"/> characters: a column per entity that ran a step
    /// (threads in scenario order, then <c>irqN</c>, then <c>rcu</c>), a row per step (or run of untraced steps), the
    /// events of the entity that ran it in its column, one per line.
    /// </summary>
    public static IEnumerable<string> Timeline(Replay replay, int width)
    {
        var rows = Rows(replay);
        if (rows.Count == 0)
        {
            yield return NoStep;
            yield break;
        }
        var columns = replay.Steps.Select(s => s.Entity).Distinct().Order().ToList();
        int stepWidth = Math.Max("step".Length, rows.Max(r => r.Label.Length) + 3);
        // A line is the step column, " | " + cell per column, and " |": the cells share what the rest leaves, and a
        // column whose longest line is shorter than its share is only as wide as that line.
        int share = Math.Max(MinColumn, (width - stepWidth - 2) / Math.Max(columns.Count, 1) - 3);
        var cell = columns.ToDictionary(c => c, c => Math.Min(share, Math.Max(MinColumn,
            rows.Where(r => r.Entity == c).SelectMany(r => r.Lines).Append(replay.Entities[c]).Max(l => l.Length))));
        string Line(string step, Func<int, string> text) =>
            step.PadRight(stepWidth) + string.Concat(columns.Select(c => " | " + Fit(text(c), cell[c]))) + " |";
        yield return Line("step", c => replay.Entities[c]);
        yield return new string('-', stepWidth) + string.Concat(columns.Select(c => "-+-" + new string('-', cell[c]))) + "-+";
        foreach (var row in rows)
            for (int i = 0; i < row.Lines.Count; i++)
                yield return Line(i > 0 ? "" : (row.Violation ? ">> " : "   ") + row.Label, c => c == row.Entity ? row.Lines[i] : "");
    }

    /// <summary><paramref name="text"/> in exactly <paramref name="width"/> characters: padded, or cut with a marker.</summary>
    internal static string Fit(string text, int width) =>
        text.Length <= width ? text.PadRight(width) : text[..(width - Cut.Length)] + Cut;

    /// <summary>One printed row: a step with its events, or a run of untraced steps of one entity with its note.</summary>
    internal sealed record Row(string Label, int Entity, string Agent, IReadOnlyList<string> Lines, bool Violation);

    /// <summary>The rows of <paramref name="replay"/>, as both texts (and the HTML view of a counterexample) print them.</summary>
    internal static List<Row> Rows(Replay replay)
    {
        long? violation = replay.Result.Report?.Violation.Step;
        var rows = new List<Row>();
        var steps = replay.Steps;
        for (int i = 0; i < steps.Count;)
        {
            var s = steps[i];
            if (s.Events.Count > 0)
            {
                rows.Add(new Row($"#{s.Step}", s.Entity, s.Agent, [.. s.Events.Select(e => e.Text)], s.Step == violation));
                i++;
                continue;
            }
            // Untraced steps in a row by one entity that each left it the same way read as one: "#8-9 (2 steps) ...".
            int j = i + 1;
            while (j < steps.Count && steps[j].Events.Count == 0 && steps[j].Entity == s.Entity && steps[j].Note == s.Note) j++;
            var last = steps[j - 1];
            string label = j - i == 1 ? $"#{s.Step}" : $"#{s.Step}-{last.Step}";
            string note = j - i == 1 ? $"({s.Note})" : $"({j - i} steps: {s.Note})";
            rows.Add(new Row(label, s.Entity, s.Agent, [note], violation is { } v && v >= s.Step && v <= last.Step));
            i = j;
        }
        return rows;
    }
}
