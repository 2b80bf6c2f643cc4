// Operation outcomes and the scenario's assertions over them, as litmus tools and the kernel's mm selftests state
// them: what each operation returned to its caller (ok, a value a read saw, SIGSEGV, SIGBUS, -EFAULT, the pages GUP
// pinned), an assertion on one operation (`=> segv`), and herd-style final conditions over the outcomes of a whole
// run (`exists`, `~exists`, `forall`). An operation's outcome is recorded when it returns; a broken assertion is
// reported through the oracle as the `assertion` check, so a search stops at it with a schedule that replays it. The
// log also counts, over every completed run of a search, how often each distinct final state occurred (the histogram
// of `pv explore --outcomes`) and how many runs satisfied the final condition.
using System.Globalization;
using System.Text;

namespace Pv.Engine.Programs;

/// <summary>What kind of result an operation returned.</summary>
public enum OutcomeKind : byte
{
    /// <summary>The operation succeeded and returns nothing of interest (a write, munmap, a fork).</summary>
    Ok,
    /// <summary>A number: the value a read or fetch saw, the pages GUP pinned.</summary>
    Value,
    /// <summary>The access ended in SIGSEGV (no VMA, a forbidden access, a guard marker).</summary>
    Segv,
    /// <summary>The access ended in SIGBUS (a device mapping with nothing behind it).</summary>
    Sigbus,
    /// <summary>The call returned a negative errno (<see cref="OpOutcome.Value"/>).</summary>
    Errno,
    /// <summary>The fault found no memory (VM_FAULT_OOM: the OOM killer's business).</summary>
    Oom,
    /// <summary>
    /// The access kept faulting: each fault was handled, but another thread took the page away again before the retry,
    /// and the model stops retrying after a few faults (the kernel would go on).
    /// </summary>
    Retry,
}

/// <summary>What one operation returned, and how many page faults it took on the way.</summary>
/// <param name="Kind">The kind of result.</param>
/// <param name="Value">The number (<see cref="OutcomeKind.Value"/>) or the negative errno (<see cref="OutcomeKind.Errno"/>).</param>
/// <param name="Faults">Page faults the operation took (an access; not part of the result a condition compares).</param>
public readonly record struct OpOutcome(OutcomeKind Kind, long Value = 0, int Faults = 0)
{
    /// <summary>Success with nothing to return.</summary>
    public static OpOutcome Ok => new(OutcomeKind.Ok);

    /// <summary>A negative errno.</summary>
    public static OpOutcome Error(int errno) => new(OutcomeKind.Errno, -errno);

    /// <summary>The same result, whatever the faults taken.</summary>
    public bool SameResult(OpOutcome other) => Kind == other.Kind && Value == other.Value;

    /// <summary>The result as the scenario language writes it: <c>ok</c>, <c>5</c>, <c>segv</c>, <c>sigbus</c>, <c>-EFAULT</c>, <c>oom</c>.</summary>
    public override string ToString() => Kind switch
    {
        OutcomeKind.Ok => "ok",
        OutcomeKind.Value => Value.ToString(CultureInfo.InvariantCulture),
        OutcomeKind.Segv => "segv",
        OutcomeKind.Sigbus => "sigbus",
        OutcomeKind.Retry => "retry",
        OutcomeKind.Errno => ErrnoText(Value),
        _ => "oom",
    };

    private static string ErrnoText(long value)
    {
        foreach (var (name, errno) in Errnos)
            if (errno == -value) return "-" + name;
        return value.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The errno names the language knows (what the modelled calls return).</summary>
    private static readonly (string Name, int Errno)[] Errnos = [("EPERM", 1), ("ENOMEM", 12), ("EFAULT", 14), ("EINVAL", 22)];

    /// <summary>The words an outcome is written with, for error messages.</summary>
    public const string Syntax = "ok, segv, sigbus, oom, retry, a number (a value read, pages pinned) or -EFAULT/-ENOMEM/-EINVAL/-EPERM";

    /// <summary>Reads an outcome as <see cref="ToString"/> writes it (numbers as the scenario language writes them are parsed by the caller).</summary>
    public static bool TryParseWord(string word, out OpOutcome outcome)
    {
        outcome = word switch
        {
            "ok" => Ok,
            "segv" => new(OutcomeKind.Segv),
            "sigbus" => new(OutcomeKind.Sigbus),
            "oom" => new(OutcomeKind.Oom),
            "retry" => new(OutcomeKind.Retry),
            _ => default,
        };
        if (word is "ok" or "segv" or "sigbus" or "oom" or "retry") return true;
        foreach (var (name, errno) in Errnos)
            if (word == "-" + name) { outcome = Error(errno); return true; }
        return false;
    }
}

/// <summary>An assertion on one operation (<c>read 0x40001000 =&gt; segv</c>): every time it runs, it returns this.</summary>
/// <param name="Expected">The result it must return.</param>
/// <param name="Faults">When given, the page faults it must take.</param>
/// <param name="At">Where the assertion is written.</param>
public sealed record OutcomeAssertion(OpOutcome Expected, int? Faults, SourceSpan At)
{
    /// <summary>True if <paramref name="actual"/> satisfies the assertion.</summary>
    public bool Holds(OpOutcome actual) => actual.SameResult(Expected) && (Faults is not int f || actual.Faults == f);

    /// <inheritdoc/>
    public override string ToString() => Faults is int f ? $"{Expected} faults {f}" : Expected.ToString();
}

/// <summary>A proposition over a run's outcomes, by operation name.</summary>
public abstract record Condition
{
    /// <summary>Whether it holds for the outcomes <paramref name="outcomeOf"/> gives (null: the operation never returned).</summary>
    public abstract bool Holds(Func<string, OpOutcome?> outcomeOf);

    /// <summary>The operation names it mentions.</summary>
    public abstract IEnumerable<(string Name, SourceSpan At)> Names();

    /// <summary><c>NAME=OUTCOME</c> or <c>NAME!=OUTCOME</c>.</summary>
    public sealed record Compare(string Name, OpOutcome Value, bool Equal, SourceSpan At) : Condition
    {
        /// <inheritdoc/>
        public override bool Holds(Func<string, OpOutcome?> outcomeOf) => outcomeOf(Name) is { } o && o.SameResult(Value) == Equal;
        /// <inheritdoc/>
        public override IEnumerable<(string Name, SourceSpan At)> Names() => [(Name, At)];
        /// <inheritdoc/>
        public override string ToString() => $"{Name}{(Equal ? "=" : "!=")}{Value}";
    }

    /// <summary>Both.</summary>
    public sealed record And(Condition Left, Condition Right) : Condition
    {
        /// <inheritdoc/>
        public override bool Holds(Func<string, OpOutcome?> outcomeOf) => Left.Holds(outcomeOf) && Right.Holds(outcomeOf);
        /// <inheritdoc/>
        public override IEnumerable<(string Name, SourceSpan At)> Names() => Left.Names().Concat(Right.Names());
        /// <inheritdoc/>
        public override string ToString() => $"({Left} /\\ {Right})";
    }

    /// <summary>Either.</summary>
    public sealed record Or(Condition Left, Condition Right) : Condition
    {
        /// <inheritdoc/>
        public override bool Holds(Func<string, OpOutcome?> outcomeOf) => Left.Holds(outcomeOf) || Right.Holds(outcomeOf);
        /// <inheritdoc/>
        public override IEnumerable<(string Name, SourceSpan At)> Names() => Left.Names().Concat(Right.Names());
        /// <inheritdoc/>
        public override string ToString() => $"({Left} \\/ {Right})";
    }

    /// <summary>Not.</summary>
    public sealed record Not(Condition Inner) : Condition
    {
        /// <inheritdoc/>
        public override bool Holds(Func<string, OpOutcome?> outcomeOf) => !Inner.Holds(outcomeOf);
        /// <inheritdoc/>
        public override IEnumerable<(string Name, SourceSpan At)> Names() => Inner.Names();
        /// <inheritdoc/>
        public override string ToString() => $"~{Inner}";
    }
}

/// <summary>How a final condition quantifies over the runs of a search (herd7's).</summary>
public enum Quantifier : byte
{
    /// <summary><c>exists C</c>: some run ends with C (a witness must be found).</summary>
    Exists,
    /// <summary><c>~exists C</c>: no run ends with C (a run that does is a counterexample).</summary>
    NotExists,
    /// <summary><c>forall C</c>: every run ends with C (a run that does not is a counterexample).</summary>
    Forall,
}

/// <summary>A final condition of a scenario.</summary>
/// <param name="Quantifier">How it quantifies.</param>
/// <param name="Condition">The proposition.</param>
/// <param name="At">Where it is written.</param>
public sealed record FinalCondition(Quantifier Quantifier, Condition Condition, SourceSpan At)
{
    /// <summary>True if a completed run whose outcomes are <paramref name="outcomeOf"/> breaks the condition by itself.</summary>
    public bool BrokenBy(Func<string, OpOutcome?> outcomeOf) => Quantifier switch
    {
        Quantifier.NotExists => Condition.Holds(outcomeOf),
        Quantifier.Forall => !Condition.Holds(outcomeOf),
        _ => false,
    };

    /// <summary>Whether the condition is met over a search: <paramref name="witnesses"/> of <paramref name="runs"/> completed runs satisfied it.</summary>
    public bool MetBy(long witnesses, long runs) => Quantifier switch
    {
        Quantifier.Exists => witnesses > 0,
        Quantifier.NotExists => witnesses == 0,
        _ => witnesses == runs,
    };

    /// <inheritdoc/>
    public override string ToString() => $"{Quantifier switch { Quantifier.Exists => "exists", Quantifier.NotExists => "~exists", _ => "forall" }} {Condition}";
}

/// <summary>
/// What the completed runs of a search ended in: how often each distinct final state occurred (herd7's histogram) and how
/// many runs satisfied the final condition's proposition. Counts of parts of a search (chunks, workers) add up.
/// </summary>
public sealed class OutcomeCounts
{
    private readonly Dictionary<string, long> _histogram = new(StringComparer.Ordinal);

    /// <summary>Completed runs.</summary>
    public long Runs { get; private set; }

    /// <summary>Completed runs whose final state satisfied the final condition's proposition.</summary>
    public long Witnesses { get; private set; }

    /// <summary>Each distinct final state (<see cref="OutcomeLog.FinalState"/>) with how many runs ended in it.</summary>
    public IReadOnlyDictionary<string, long> Histogram => _histogram;

    /// <summary>One more completed run, ending in <paramref name="state"/>.</summary>
    internal void Add(string state, bool witness)
    {
        Runs++;
        if (witness) Witnesses++;
        _histogram[state] = _histogram.GetValueOrDefault(state) + 1;
    }

    /// <summary>Adds what <paramref name="other"/> counted.</summary>
    public void Merge(OutcomeCounts other)
    {
        Runs += other.Runs;
        Witnesses += other.Witnesses;
        foreach (var (state, n) in other._histogram) _histogram[state] = _histogram.GetValueOrDefault(state) + n;
    }
}

/// <summary>
/// The outcomes of one run, by operation name (an operation run <c>times N</c> keeps its last), and the counts of the
/// completed runs since they were last taken. One log serves every run of a compiled scenario; <see cref="StartRun"/>
/// forgets the last run's outcomes only.
/// </summary>
public sealed class OutcomeLog
{
    private readonly Dictionary<string, int> _slots = new(StringComparer.Ordinal);
    private readonly string[] _names;
    private readonly OpOutcome?[] _last;
    private OutcomeCounts _counts = new();

    /// <summary>A log for the operations called <paramref name="names"/> (in the order a final state lists them).</summary>
    public OutcomeLog(IEnumerable<string> names, FinalCondition? final)
    {
        _names = [.. names.Distinct(StringComparer.Ordinal)];
        for (int i = 0; i < _names.Length; i++) _slots[_names[i]] = i;
        _last = new OpOutcome?[_names.Length];
        Final = final;
    }

    /// <summary>The scenario's final condition, if it has one.</summary>
    public FinalCondition? Final { get; }

    /// <summary>The operation names a final state lists, in declaration order.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>The last outcome of the operation called <paramref name="name"/> in this run, or null if it never returned (or is not listed).</summary>
    public OpOutcome? this[string name] => _slots.TryGetValue(name, out int i) ? _last[i] : null;

    /// <summary>The completed runs counted since the last call, and a fresh count from now on.</summary>
    public OutcomeCounts TakeCounts()
    {
        var taken = _counts;
        _counts = new OutcomeCounts();
        return taken;
    }

    /// <summary>A new run begins: no outcome yet.</summary>
    internal void StartRun() => Array.Clear(_last);

    /// <summary>The operation called <paramref name="name"/> returned <paramref name="outcome"/> (an unlisted one is not kept).</summary>
    internal void Record(string name, OpOutcome outcome)
    {
        if (_slots.TryGetValue(name, out int i)) _last[i] = outcome;
    }

    /// <summary>The run completed (every thread finished): count its final state.</summary>
    internal void Complete() => _counts.Add(FinalState(), Final is not null && Final.Condition.Holds(n => this[n]));

    /// <summary>This run's outcomes as one line, <c>name=outcome</c> in declaration order (<c>-</c>: never returned).</summary>
    public string FinalState()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < _names.Length; i++)
        {
            if (i > 0) sb.Append(' ');
            sb.Append(_names[i]).Append('=').Append(_last[i]?.ToString() ?? "-");
        }
        return sb.ToString();
    }
}
