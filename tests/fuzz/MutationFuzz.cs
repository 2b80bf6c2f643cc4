// Mutation fuzzing of Pv's three input readers through the real CLI entry (PvApp.Run), shared by the CI fuzz
// tests (tests/Pv.Cli.Tests/FuzzTests.cs) and the long run (`Pv.Benchmarks -- --fuzz`). A mutant is a shipped
// file (scenarios/*.pvl and scenarios/zoo/*.pvl, plugins.json, a counterexample `pv explore` writes) with 1..4
// mutations: bit flips, line deletions, duplications and swaps, truncation, and tokens replaced by interesting
// values (huge, zero and negative numbers, hex overflow, NUL, invalid UTF-8, odd whitespace and CR, very long
// tokens, other keywords, another token of the same file so names repeat). Every mutant is a pure function of
// its generated description, so a CsCheck seed reproduces it and CsCheck's shrinking reports a minimal one.
// What a case must satisfy (Outcome.Problem): PvApp.Run returns (no exception escapes) within a wall-time cap,
// with an exit code the contract allows for that input (never 3, an internal error), and a bad input (exit 2)
// names where it is: every error line carries file:line:column or a JSON path.
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using Pv.Cli;

namespace Pv.Testing;

/// <summary>Which reader a mutant feeds, and so which command runs it.</summary>
internal enum FuzzTarget
{
    /// <summary>A mutated .pvl through <c>pv run</c> with the shipped plugins.json.</summary>
    Scenario,
    /// <summary>A mutated plugins.json through <c>pv plugins</c>, then <c>pv run</c> of a shipped scenario with it.</summary>
    PluginsJson,
    /// <summary>A mutated counterexample through <c>pv replay</c>.</summary>
    Counterexample,
}

/// <summary>What one mutation does; its numbers are taken modulo the file's size, so any value fits any file.</summary>
internal enum MutationKind { FlipBit, DeleteLine, DuplicateLine, SwapLines, Truncate, ReplaceToken, CopyToken, InsertToken }

/// <summary>One mutation: <paramref name="A"/> and <paramref name="B"/> pick places, <paramref name="Value"/> an interesting value.</summary>
internal sealed record Mutation(MutationKind Kind, uint A, uint B, int Value)
{
    public override string ToString() => $"{Kind}({A}, {B}, {(Kind is MutationKind.ReplaceToken or MutationKind.InsertToken ? MutationFuzz.Show(MutationFuzz.Interesting[Value]) : Value.ToString())})";
}

/// <summary>A shipped file and the mutations applied to it, in order.</summary>
internal sealed record Mutant(FuzzTarget Target, int Seed, Mutation[] Mutations)
{
    public override string ToString() => $"{Target} seed file #{Seed}: {string.Join(", ", Mutations.Select(m => m.ToString()))}";
}

/// <summary>What one case did.</summary>
/// <param name="Exit">The exit code, or null when an exception escaped or the case did not finish.</param>
/// <param name="Error">What the command wrote to its error writer (or the escaped exception).</param>
/// <param name="Elapsed">Wall time.</param>
/// <param name="Problem">Why the case breaks the contract, or null.</param>
internal sealed record Outcome(int? Exit, string Error, TimeSpan Elapsed, string? Problem);

/// <summary>Mutant generation and the case runner.</summary>
internal static partial class MutationFuzz
{
    /// <summary>The longest a case may take: far above any legal input's run, far below a hang.</summary>
    public static readonly TimeSpan CaseCap = TimeSpan.FromSeconds(60);

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>Replacement tokens: the values a hostile or careless user would try.</summary>
    public static readonly byte[][] Interesting =
    [
        // Numbers at and past every boundary the grammar and the limits have.
        B("0"), B("-1"), B("1"), B("4095"), B("4097"), B("65536"), B("100000"), B("1048576"), B("1048577"),
        B("2147483647"), B("2147483648"), B("4294967296"), B("9223372036854775807"), B("9223372036854775808"),
        B("18446744073709551615"), B("18446744073709551616"), B("0x0"), B("0xfff"), B("0x7fffffffffffffff"),
        B("0xffffffffffffffff"), B("0x10000000000000000"), B("0x"), B("16777215K"), B("17179869183G"), B("1024G"),
        B("1T"), B("1_000"), B("_"), B("1e999"), B("-0"), B("0.5"), B("+1"),
        // Characters that split or join words and lines in unexpected ways.
        [0], B("\r"), B("\t"), B("\v"), B("\f"), B("\u00a0"), B("\u2028"), B("\u200b"), B("\ufeff"), B("#"), B(","),
        B("\""), B("\\"), B("\\u0000"), B("a\\u0000b"), B("\\ud800"), B("{"), B("}"), B("[]"), B("{}"), B("null"), B("true"),
        // Invalid UTF-8: a lone continuation byte, a lone lead byte, an encoded surrogate, past U+10FFFF, 0xFF.
        [0x80], [0xC3], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF],
        // Very long tokens.
        B(new string('a', 5000)), B(new string('9', 400)), B("0x" + new string('f', 100)),
        // Paths a plugin or scenario entry could name.
        B("/dev/zero"), B("/"), B(".."), B("/proc/self/mem"),
        // Keywords of the other places: directives, operations, words inside lines, verdicts, backends, JSON keys.
        B("backend"), B("smmu"), B("mmu"), B("cpus"), B("levels"), B("tlb"), B("walk-cache"), B("max-steps"), B("option"), B("cost"),
        B("fail-alloc"), B("expect"), B("explore"), B("file"), B("device"), B("mm"), B("thread"), B("workload"), B("vma"), B("populate"),
        B("read"), B("write"), B("mmap"), B("munmap"), B("mprotect"), B("mremap"), B("madvise"), B("fork"), B("exit"), B("gup"), B("gup-fast"),
        B("unmap-mapping-range"), B("revoke"), B("truncate"), B("reclaim"), B("collapse"), B("vmalloc"), B("vfree"), B("switch-mm"), B("lazy"),
        B("irq-off"), B("irq-on"), B("rcu-read-lock"), B("rcu-read-unlock"), B("speculate"), B("dma-read"), B("dma-write"), B("unbind"), B("wait-for"),
        B("times"), B("pages"), B("walks"), B("pgoff"), B("cpu"), B("sva"), B("ats"), B("hardware"), B("kernel"), B("user"), B("shared"),
        B("pfnmap"), B("mixedmap"), B("hugetlb"), B("ro"), B("rwx"), B("none"), B("dontneed"), B("guard"), B("threads"), B("ops"), B("mms"),
        B("schedules"), B("depth"), B("bound"), B("dfs"), B("pct"), B("clean"), B("O2"), B("O7"), B("deadlock"), B("on"), B("off"),
        B("host-mappings"), B("table-batch"), B("fork-exit"), B("rcu-table-free"),
        B("x86-native"), B("xen-pv"), B("xen-pv-2012"), B("arm64-native"), B("arm64-smmu-v6.6"), B("uml"), B("native"), B("smmu"),
        B("plugins"), B("backends"), B("name"), B("path"), B("sha256"), B("options"), B("plugin"), B("archProfile"), B("era"), B("bogus"),
        B("schedule"), B("omitThreads"), B("omitOps"), B("scenarioHash"), B("seed"), B("invariant"), B("op"),
    ];

    /// <summary>A printable form of a token: control characters, non-ASCII and long runs shown so a shrunk mutant reads on one line.</summary>
    public static string Show(byte[] token)
    {
        if (token.Length > 300) return $"{Show(token[..150])}...<{token.Length - 300} bytes>...{Show(token[^150..])}";
        var s = new StringBuilder("\"");
        foreach (byte b in token) s.Append(b is >= 0x20 and < 0x7F and not (byte)'"' ? ((char)b).ToString() : $"\\x{b:x2}");
        return s.Append('"').ToString();
    }

    private static readonly Gen<Mutation> GenMutation =
        Gen.Select(Gen.Int[0, Enum.GetValues<MutationKind>().Length - 1], Gen.UInt, Gen.UInt, Gen.Int[0, Interesting.Length - 1],
            (k, a, b, v) => new Mutation((MutationKind)k, a, b, v));

    /// <summary>Mutants of the <paramref name="seeds"/> shipped files of <paramref name="target"/>.</summary>
    public static Gen<Mutant> Mutants(FuzzTarget target, int seeds) =>
        Gen.Select(Gen.Int[0, seeds - 1], GenMutation.Array[1, 4], (s, m) => new Mutant(target, s, m));

    /// <summary>The deterministic CsCheck seed of case <paramref name="i"/> of a fuzz run seeded <paramref name="runSeed"/>.</summary>
    public static string CaseSeed(ulong runSeed, int i) => new PCG((uint)runSeed, (ulong)i).ToString();

    /// <summary><paramref name="file"/> with <paramref name="mutations"/> applied.</summary>
    public static byte[] Apply(byte[] file, IEnumerable<Mutation> mutations)
    {
        var bytes = file.ToList();
        foreach (var m in mutations) bytes = Apply(bytes, m);
        return [.. bytes];
    }

    private static List<byte> Apply(List<byte> bytes, Mutation m)
    {
        if (bytes.Count == 0) return bytes;
        switch (m.Kind)
        {
            case MutationKind.FlipBit:
                bytes[(int)(m.A % bytes.Count)] ^= (byte)(1 << (int)(m.B % 8));
                return bytes;
            case MutationKind.Truncate:
                return bytes[..(int)(m.A % bytes.Count)];
            case MutationKind.DeleteLine or MutationKind.DuplicateLine or MutationKind.SwapLines:
                var lines = Lines(bytes);
                int i = (int)(m.A % lines.Count), j = (int)(m.B % lines.Count);
                switch (m.Kind)
                {
                    case MutationKind.DeleteLine: lines.RemoveAt(i); break;
                    case MutationKind.DuplicateLine: lines.Insert(i, lines[i]); break;
                    default: (lines[i], lines[j]) = (lines[j], lines[i]); break;
                }
                return [.. lines.SelectMany(l => l)];
            default:
                var tokens = Tokens(bytes);
                if (tokens.Count == 0) return bytes;
                var (start, length) = tokens[(int)(m.A % tokens.Count)];
                byte[] value = m.Kind switch
                {
                    MutationKind.CopyToken => bytes.GetRange(tokens[(int)(m.B % tokens.Count)].Start, tokens[(int)(m.B % tokens.Count)].Length).ToArray(),
                    MutationKind.InsertToken => [.. Interesting[m.Value], (byte)' ', .. bytes.GetRange(start, length)],
                    _ => Interesting[m.Value],
                };
                bytes.RemoveRange(start, length);
                bytes.InsertRange(start, value);
                return bytes;
        }
    }

    /// <summary>Lines with their terminating '\n' (the last one may have none), so joining them gives the file back.</summary>
    private static List<byte[]> Lines(List<byte> bytes)
    {
        var lines = new List<byte[]>();
        int start = 0;
        for (int k = 0; k < bytes.Count; k++)
            if (bytes[k] == (byte)'\n') { lines.Add(bytes.GetRange(start, k + 1 - start).ToArray()); start = k + 1; }
        if (start < bytes.Count) lines.Add(bytes.GetRange(start, bytes.Count - start).ToArray());
        return lines;
    }

    /// <summary>Runs of name-like bytes (letters, digits, <c>_-./+</c>): a .pvl word, a JSON string's content or number.</summary>
    private static List<(int Start, int Length)> Tokens(List<byte> bytes)
    {
        static bool Part(byte b) => char.IsAsciiLetterOrDigit((char)b) || b is (byte)'_' or (byte)'-' or (byte)'.' or (byte)'/' or (byte)'+';
        var tokens = new List<(int, int)>();
        for (int k = 0; k < bytes.Count;)
        {
            if (!Part(bytes[k])) { k++; continue; }
            int start = k;
            while (k < bytes.Count && Part(bytes[k])) k++;
            tokens.Add((start, k - start));
        }
        return tokens;
    }

    /// <summary>A located error line: <c>file:line:column:</c> (a scenario, a JSON position) or a JSON path (<c>$</c>, <c>$.x</c>, <c>$[0]</c>).</summary>
    [GeneratedRegex(@"^(?:pv: )?.+?:\d+:\d+: |: \$(?:[.\[]|: |$)")]
    private static partial Regex Located();

    /// <summary>
    /// Judges a finished command: <paramref name="allowed"/> exit codes; exit 2 only with every error line located.
    /// <paramref name="errorLines"/> are the lines that report problems (for <c>pv plugins</c>, its diagnostics).
    /// </summary>
    public static string? Judge(int exit, int[] allowed, IEnumerable<string> errorLines)
    {
        if (!allowed.Contains(exit)) return $"exit {exit}, expected one of {string.Join(", ", allowed)}";
        if (exit != PvExitCode.BadInput) return null;
        var lines = errorLines.ToList();
        if (lines.Count == 0) return "exit 2 with no error";
        var unlocated = lines.Where(l => !Located().IsMatch(l)).ToList();
        return unlocated.Count == 0 ? null : $"unlocated error: {unlocated[0]}";
    }

    /// <summary>Runs <c>pv</c> with <paramref name="args"/> on a thread of its own, so a hang is reported rather than waited for.</summary>
    public static (int? Exit, string Output, string Error, TimeSpan Elapsed, string? Problem) Pv(string[] args, string cwd)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var clock = Stopwatch.StartNew();
        var run = Task.Factory.StartNew(() => PvApp.Run(args, output, error, cwd), TaskCreationOptions.LongRunning);
        // A hung case keeps its thread; the caller stops fuzzing (the process ends with the test run).
        if (!run.Wait(CaseCap)) return (null, "", "", clock.Elapsed, $"no exit within {CaseCap.TotalSeconds:N0} s (a hang)");
        if (run.IsFaulted)
            return (null, output.ToString(), error.ToString(), clock.Elapsed, $"exception escaped PvApp.Run: {run.Exception!.InnerException}");
        return (run.Result, output.ToString(), error.ToString(), clock.Elapsed, null);
    }

    /// <summary>The error writer's lines: each must be a located problem, so a message spilling onto more lines fails too.</summary>
    public static IEnumerable<string> ErrorLines(string error) =>
        error.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0);
}

/// <summary>
/// The shipped inputs and a scratch folder to run mutants in: its <c>artifacts</c> link points at the repository's, so
/// a mutated plugins.json there finds the plugins the shipped one names by relative path.
/// </summary>
internal sealed class FuzzRig : IDisposable
{
    private readonly string _root;
    private readonly string _folder;
    private readonly string _config;
    private readonly string _db;
    private readonly string _cleanScenario;
    private readonly Dictionary<FuzzTarget, (string Name, byte[] Bytes)[]> _seeds = [];

    /// <summary>Sets up the rig for the repository at <paramref name="repoRoot"/>; writes the counterexample with <c>pv explore</c>.</summary>
    public FuzzRig(string repoRoot)
    {
        _root = repoRoot;
        _folder = Path.Combine(Path.GetTempPath(), "pv-fuzz", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
        Directory.CreateSymbolicLink(Path.Combine(_folder, "artifacts"), Path.Combine(repoRoot, "artifacts"));
        _config = Path.Combine(repoRoot, "plugins.json");
        _db = Path.Combine(_folder, "fuzz.db");
        _cleanScenario = Path.Combine(repoRoot, "scenarios", "zoo", "z1-gup-fast-vs-munmap-fixed.pvl");

        var scenarios = Directory.GetFiles(Path.Combine(repoRoot, "scenarios"), "*.pvl")
            .Concat(Directory.GetFiles(Path.Combine(repoRoot, "scenarios", "zoo"), "*.pvl"))
            .Order(StringComparer.Ordinal).Select(f => (Path.GetFileName(f), File.ReadAllBytes(f))).ToArray();
        _seeds[FuzzTarget.Scenario] = scenarios;
        _seeds[FuzzTarget.PluginsJson] = [("plugins.json", File.ReadAllBytes(_config))];

        string cx = Counterexample = Path.Combine(_folder, "z1.cx.json");
        var explore = MutationFuzz.Pv(["explore", Path.Combine(repoRoot, "scenarios", "zoo", "z1-gup-fast-vs-munmap.pvl"), "--out", cx,
            "--schedules", "200", "--config", _config, "--db", _db], _folder);
        // Z1 expects O2: the search that finds it is as expected (exit 0) and writes the counterexample.
        if (explore.Exit != PvExitCode.Ok || !File.Exists(cx))
            throw new InvalidOperationException($"pv explore wrote no counterexample (exit {explore.Exit}): {explore.Error}");
        _seeds[FuzzTarget.Counterexample] = [("z1.cx.json", File.ReadAllBytes(cx))];
    }

    /// <summary>The counterexample <c>pv explore</c> wrote for the rig (Z1 on xen-pv-2012).</summary>
    public string Counterexample { get; }

    /// <summary>How many shipped files <paramref name="target"/> mutates.</summary>
    public int Seeds(FuzzTarget target) => _seeds[target].Length;

    /// <summary>The shipped file <paramref name="mutant"/> starts from.</summary>
    public (string Name, byte[] Bytes) SeedOf(Mutant mutant) => _seeds[mutant.Target][mutant.Seed];

    /// <summary>The bytes of <paramref name="mutant"/>.</summary>
    public byte[] Bytes(Mutant mutant) => MutationFuzz.Apply(SeedOf(mutant).Bytes, mutant.Mutations);

    /// <summary>The mutant for a failure report: its mutations, then where it differs from its shipped file, before and after.</summary>
    public string Print(Mutant mutant)
    {
        byte[] seed = SeedOf(mutant).Bytes, bytes = Bytes(mutant);
        int prefix = 0;
        while (prefix < seed.Length && prefix < bytes.Length && seed[prefix] == bytes[prefix]) prefix++;
        int suffix = 0;
        while (suffix < seed.Length - prefix && suffix < bytes.Length - prefix && seed[^(suffix + 1)] == bytes[^(suffix + 1)]) suffix++;
        int from = Math.Max(0, prefix - 30);
        string Middle(byte[] b) => MutationFuzz.Show(b[from..Math.Min(b.Length, b.Length - suffix + 30)]);
        return $"{mutant} on {SeedOf(mutant).Name}: from byte {from}, was {Middle(seed)}, now {Middle(bytes)}";
    }

    /// <summary>Runs <paramref name="mutant"/> through the command of its target and judges it.</summary>
    public Outcome Run(Mutant mutant)
    {
        byte[] bytes = Bytes(mutant);
        switch (mutant.Target)
        {
            case FuzzTarget.Scenario:
            {
                string path = Write("mutant.pvl", bytes);
                var r = MutationFuzz.Pv(["run", path, "--config", _config, "--db", _db], _folder);
                return Judged(r, [PvExitCode.Ok, PvExitCode.Violation, PvExitCode.BadInput], MutationFuzz.ErrorLines(r.Error));
            }
            case FuzzTarget.PluginsJson:
            {
                string path = Write("plugins.json", bytes);
                var list = MutationFuzz.Pv(["plugins", "--config", path], _folder);
                // pv plugins prints its diagnostics after "N problem(s):", one per line, indented.
                var diagnostics = list.Output.Split('\n').SkipWhile(l => !l.Contains("problem(s):", StringComparison.Ordinal)).Skip(1)
                    .Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith("  ", StringComparison.Ordinal)).Select(l => l[2..]);
                var listed = Judged(list, [PvExitCode.Ok, PvExitCode.BadInput], [.. MutationFuzz.ErrorLines(list.Error), .. diagnostics]);
                if (listed.Problem is not null) return listed with { Problem = $"pv plugins: {listed.Problem}" };
                var run = MutationFuzz.Pv(["run", _cleanScenario, "--config", path, "--db", _db], _folder);
                var ran = Judged(run, [PvExitCode.Ok, PvExitCode.Violation, PvExitCode.BadInput], MutationFuzz.ErrorLines(run.Error));
                return ran with { Elapsed = listed.Elapsed + ran.Elapsed, Problem = ran.Problem is null ? null : $"pv run: {ran.Problem}" };
            }
            default:
            {
                string path = Write("mutant.cx.json", bytes);
                var r = MutationFuzz.Pv(["replay", path, "--config", _config], _folder);
                return Judged(r, [PvExitCode.Ok, PvExitCode.Violation, PvExitCode.BadInput], MutationFuzz.ErrorLines(r.Error));
            }
        }
    }

    private static Outcome Judged((int? Exit, string Output, string Error, TimeSpan Elapsed, string? Problem) r, int[] allowed, IEnumerable<string> errorLines)
    {
        if (r.Problem is not null) return new(r.Exit, r.Error, r.Elapsed, r.Problem);
        string? problem = MutationFuzz.Judge(r.Exit!.Value, allowed, errorLines);
        return new(r.Exit, r.Error, r.Elapsed, problem is null ? null : $"{problem}\n{r.Error}");
    }

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path.Combine(_folder, "artifacts"));   // the link, never what it points at
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException) { }   // a hung case may still hold a file; the temp folder is left for the OS
    }
}
