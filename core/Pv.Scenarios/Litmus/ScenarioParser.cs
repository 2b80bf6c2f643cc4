// The .pvl reader (grammar in docs/scenarios.md). A file is lines of whitespace-separated words; `#` starts
// a comment. The first word of a line says what it is: a machine directive, the start of an `mm`, `thread`
// or `workload` block, or a line of the current block (a VMA, a populate range, an operation, a workload
// parameter). Every problem is collected with its file, line and column and what was expected, then the
// static checks run (names resolve, CPU indices are in range, every address lies in a VMA its mm can have),
// so a scenario either parses whole or throws a ScenarioException before anything runs. The backend name,
// and what is valid only for one MMU model (Litmus/MmuModelFit: the backend's declaration decides), are checked
// when the scenario is bound to plugins.json (BoundScenario.Bind).
using System.Globalization;
using System.Security.Cryptography;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine;
using Pv.Engine.Cpu;
using Pv.Engine.Memory;
using Pv.Scenarios.Running;
using Pv.Engine.Sched;
using Pv.Engine.Programs;
using Pv.Hosting.Config;

namespace Pv.Scenarios.Litmus;

/// <summary>Parses .pvl text into a <see cref="Scenario"/>.</summary>
public sealed class ScenarioParser
{
    /// <summary>
    /// Era toggles accepted by <c>option</c>, with the MachineOptions they set: the engine's
    /// <see cref="KernelToggles"/> (the same table plugins.json uses), written in kebab case.
    /// </summary>
    public static IReadOnlyDictionary<string, Func<MachineOptions, bool, MachineOptions>> Toggles { get; } =
        KernelToggles.ByKey.Values.ToDictionary(
            t => string.Concat(t.Key.Select(c => char.IsUpper(c) ? "-" + char.ToLowerInvariant(c) : c.ToString())),
            t => t.Apply, StringComparer.Ordinal);

    /// <summary>Operation keywords, as written.</summary>
    public static IReadOnlyDictionary<string, OpKind> Operations { get; } = new Dictionary<string, OpKind>(StringComparer.Ordinal)
    {
        ["read"] = OpKind.Read, ["write"] = OpKind.Write, ["exec"] = OpKind.Exec,
        ["mmap"] = OpKind.Mmap, ["munmap"] = OpKind.Munmap, ["mprotect"] = OpKind.Mprotect, ["mremap"] = OpKind.Mremap,
        ["madvise"] = OpKind.MadviseDontneed, ["fork"] = OpKind.Fork, ["exit"] = OpKind.Exit,
        ["gup"] = OpKind.Gup, ["gup-fast"] = OpKind.GupFast,
        ["unmap-mapping-range"] = OpKind.UnmapMappingRange, ["revoke"] = OpKind.Revoke, ["truncate"] = OpKind.Truncate, ["reclaim"] = OpKind.Reclaim, ["collapse"] = OpKind.Collapse,
        ["vmalloc"] = OpKind.Vmalloc, ["vfree"] = OpKind.Vfree, ["switch-mm"] = OpKind.SwitchMm, ["lazy"] = OpKind.Lazy,
        ["irq-off"] = OpKind.IrqOff, ["irq-on"] = OpKind.IrqOn, ["rcu-read-lock"] = OpKind.RcuReadLock,
        ["rcu-read-unlock"] = OpKind.RcuReadUnlock, ["speculate"] = OpKind.Speculate,
        ["dma-read"] = OpKind.DmaRead, ["dma-write"] = OpKind.DmaWrite, ["unbind"] = OpKind.Unbind, ["wait-for"] = OpKind.WaitFor,
        ["vcpu-preempt"] = OpKind.VcpuPreempt, ["vcpu-resume"] = OpKind.VcpuResume,
    };

    private static readonly string[] Directives =
        ["scenario", "backend", "smmu", "mmu", "cpus", "levels", "tlb", "walk-cache", "max-steps", "option", "cost", "fail-alloc", "expect", "explore", "exists", "~exists", "forall", "file", "device", "mm", "thread", "workload"];

    private static readonly Dictionary<string, AllocSite> AllocSites = new(StringComparer.Ordinal)
    {
        ["table-batch"] = AllocSite.TableBatch, ["page-table"] = AllocSite.PageTable, ["data-page"] = AllocSite.DataPage, ["device-pfn"] = AllocSite.DevicePfn,
    };

    private static readonly Dictionary<string, WorkloadMix> Mixes = new(StringComparer.Ordinal)
    {
        ["fault-heavy"] = WorkloadMix.FaultHeavy, ["munmap-heavy"] = WorkloadMix.MunmapHeavy,
        ["mprotect-heavy"] = WorkloadMix.MprotectHeavy, ["fork-exit"] = WorkloadMix.ForkExit,
    };

    private readonly string _file;
    private readonly List<ScenarioDiagnostic> _errors = [];
    private MachineOptions _options = new();
    private readonly List<CostSetting> _cost = [];
    private readonly Dictionary<AllocSite, int> _failAlloc = [];
    private readonly List<FileDecl> _files = [];
    private readonly HashSet<string> _incompleteMms = new(StringComparer.Ordinal);
    private readonly List<(string Name, List<VmaDecl> Vmas, List<PopulateDecl> Populate, SourceSpan At)> _mms = [];
    private readonly List<(string Name, ThreadKind Kind, int Cpu, string? Mm, List<OpDecl> Ops, SourceSpan At, SourceSpan CpuAt, bool Ats)> _threads = [];
    private string? _name, _backend, _smmu;
    private SourceSpan _backendAt, _smmuAt, _mmuAt;
    private MmuKind? _mmu;
    private Expectation? _expect;
    private FinalCondition? _final;
    private readonly Dictionary<string, SourceSpan> _labels = new(StringComparer.Ordinal);
    private SearchDefaults _search = new();
    private WorkloadDecl? _workload;
    private enum Block { None, Mm, Thread, Workload }
    private Block _block;

    private ScenarioParser(string file) => _file = file;

    /// <summary>Reads and parses <paramref name="path"/>.</summary>
    /// <exception cref="ScenarioException">The file is missing or has problems.</exception>
    public static Scenario ParseFile(string path)
    {
        byte[] bytes;
        try
        {
            bytes = InputFile.Read(path);
        }
        catch (InputFileException e)
        {
            throw new ScenarioException([new ScenarioDiagnostic(new SourceSpan(path, 1, 1), $"cannot read the scenario file: {e.Reason}")]);
        }
        return Parse(path, System.Text.Encoding.UTF8.GetString(bytes), Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }

    /// <summary>Parses <paramref name="text"/>, reporting problems against <paramref name="file"/>.</summary>
    /// <exception cref="ScenarioException">The text has problems.</exception>
    public static Scenario Parse(string file, string text, string? hash = null)
    {
        var p = new ScenarioParser(file);
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++) p.ParseLine(i + 1, lines[i].TrimEnd('\r'));
        return p.Finish(hash ?? Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text))));
    }

    private readonly record struct Word(string Text, SourceSpan At);

    private sealed class Cursor(ScenarioParser parser, List<Word> words, int line, int endColumn)
    {
        private int _i = 1;
        public Word Head => words[0];
        public bool More => _i < words.Count;
        public Word? Peek => More ? words[_i] : null;
        public SourceSpan Here => More ? words[_i].At : new SourceSpan(parser._file, line, endColumn);

        public Word? Next(string expected)
        {
            if (More) return words[_i++];
            parser.Error(Here, $"expected {expected} after '{Head.Text}'");
            return null;
        }

        public bool Accept(string word)
        {
            if (!More || words[_i].Text != word) return false;
            _i++;
            return true;
        }

        public ulong? Number(string expected)
        {
            if (Next(expected) is not { } w) return null;
            if (TryNumber(w.Text, out ulong v)) return v;
            parser.Error(w.At, $"expected {expected} (a number: decimal, 0x hex, optional K/M/G suffix), found '{w.Text}'");
            return null;
        }

        public int? Int(string expected, int min, int max)
        {
            var at = Here;
            if (Number(expected) is not { } v) return null;
            if (v >= (ulong)min && v <= (ulong)max) return (int)v;
            parser.Error(at, $"{expected} must be {min}..{max}, found {v}");
            return null;
        }

        public void End()
        {
            if (More) parser.Error(words[_i].At, $"unexpected '{words[_i].Text}' at the end of '{Head.Text}'");
        }
    }

    /// <summary>Records a problem; a second one on a line that already has one is a follow-on of the first and is dropped.</summary>
    private void Error(SourceSpan at, string message)
    {
        if (_errors.Count > 0 && _errors[^1].At.File == at.File && _errors[^1].At.Line == at.Line) return;
        _errors.Add(new ScenarioDiagnostic(at, message));
    }

    private void ParseLine(int line, string text)
    {
        int hash = text.IndexOf('#');
        if (hash >= 0) text = text[..hash];
        var words = new List<Word>();
        for (int i = 0; i < text.Length;)
        {
            if (char.IsWhiteSpace(text[i])) { i++; continue; }
            int start = i;
            while (i < text.Length && !char.IsWhiteSpace(text[i])) i++;
            words.Add(new Word(text[start..i], new SourceSpan(_file, line, start + 1)));
        }
        if (words.Count == 0) return;
        var c = new Cursor(this, words, line, text.Length + 1);
        string head = words[0].Text;
        int errors = _errors.Count;
        if (Directives.Contains(head)) Directive(c);
        else if (_block == Block.Mm)
        {
            MmLine(c);
            if (_errors.Count > errors) _incompleteMms.Add(_mms[^1].Name);
        }
        else if (_block == Block.Thread) OpLine(c);
        else if (_block == Block.Workload) WorkloadLine(c);
        else Error(words[0].At, $"unknown directive '{head}'; expected one of: {string.Join(", ", Directives)}");
    }

    private void Directive(Cursor c)
    {
        var head = c.Head;
        switch (head.Text)
        {
            case "scenario":
                _name = c.Next("a name")?.Text;
                break;
            case "exists" or "~exists" or "forall":
                if (_final is not null) { Error(head.At, $"a scenario has one final condition; the first is at {_final.At}"); break; }
                var q = head.Text switch { "exists" => Quantifier.Exists, "~exists" => Quantifier.NotExists, _ => Quantifier.Forall };
                if (new ConditionReader(this, c).Read() is { } cond) _final = new FinalCondition(q, cond, head.At);
                break;
            case "backend":
                if (c.Next("a backend name from plugins.json") is { } b) (_backend, _backendAt) = (b.Text, b.At);
                break;
            case "smmu":
                if (c.Next("a secondary-MMU backend name from plugins.json") is { } sm) (_smmu, _smmuAt) = (sm.Text, sm.At);
                break;
            case "mmu":
                if (c.Next("hardware or host-mappings") is not { } mk) break;
                if (mk.Text is "hardware" or "host-mappings") (_mmu, _mmuAt) = (mk.Text == "hardware" ? MmuKind.Hardware : MmuKind.HostMappings, mk.At);
                else Error(mk.At, $"expected hardware or host-mappings, found '{mk.Text}'");
                break;
            case "cpus":
                if (c.Int("a CPU count", 1, CpuMask.MaxCpus) is { } cpus) _options = _options with { Cpus = cpus };
                break;
            case "levels":
                if (c.Int("paging levels", 4, 5) is { } levels) _options = _options with { PagingLevels = levels };
                break;
            case "tlb":
                if (c.Int("TLB entries", 1, 1 << 20) is { } entries) _options = _options with { TlbEntries = entries };
                if (c.Accept("ways") && c.Int("TLB ways", 1, 255) is { } ways) _options = _options with { TlbWays = ways };
                break;
            case "walk-cache":
                if (c.Int("walk-cache entries", 0, 1 << 16) is { } wc) _options = _options with { WalkCacheEntries = wc };
                break;
            case "max-steps":
                if (c.Int("a step limit", 1, int.MaxValue) is { } ms) _options = _options with { MaxSteps = ms };
                break;
            case "option":
                Option(c);
                break;
            case "cost":
                // The key is checked when the scenario is bound to its backend: the engine's keys and the backend's declared ones.
                if (c.Next("a cost key") is not { } key) break;
                if (c.Number("the cost's value") is not { } value) break;
                if (value > long.MaxValue) Error(key.At, $"cost '{key.Text}': {value} is too large");
                else _cost.Add(new CostSetting(key.Text, (long)value, key.At));
                break;
            case "fail-alloc":
                if (c.Next("an allocation site") is not { } site) break;
                if (!AllocSites.TryGetValue(site.Text, out var s)) { Error(site.At, $"unknown allocation site '{site.Text}'; expected one of: {string.Join(", ", AllocSites.Keys)}"); break; }
                if (c.Int("a failure count", 1, 1_000_000) is { } n) _failAlloc[s] = n;
                break;
            case "expect":
                Expect(c);
                break;
            case "explore":
                Explore(c);
                break;
            case "file":
            case "device":
                FileOrDevice(c, head.Text == "device");
                break;
            case "mm":
                if (c.Next("an mm name") is { } mm)
                {
                    if (_mms.Any(m => m.Name == mm.Text)) Error(mm.At, $"mm '{mm.Text}' is declared twice");
                    _mms.Add((mm.Text, [], [], mm.At));
                    _block = Block.Mm;
                }
                break;
            case "thread":
                Thread(c);
                break;
            case "workload":
                if (c.Next("a mix") is not { } mix) break;
                if (!Mixes.TryGetValue(mix.Text, out var m2)) { Error(mix.At, $"unknown workload mix '{mix.Text}'; expected one of: {string.Join(", ", Mixes.Keys)}"); break; }
                _workload = new WorkloadDecl(m2, Threads: 0, Ops: 40, Pages: 16, Mms: 1, mix.At);
                _block = Block.Workload;
                break;
        }
        c.End();
    }

    private void Option(Cursor c)
    {
        if (c.Next("an option name") is not { } name) return;
        if (!Toggles.TryGetValue(name.Text, out var set))
        {
            Error(name.At, $"unknown option '{name.Text}'; expected one of: {string.Join(", ", Toggles.Keys)}");
            c.Next("on or off");
            return;
        }
        if (c.Next("on or off") is not { } value) return;
        if (value.Text is "on" or "off") _options = set(_options, value.Text == "on");
        else Error(value.At, $"expected on or off, found '{value.Text}'");
    }

    private void Expect(Cursor c)
    {
        if (c.Next("clean or an invariant O1..O7") is not { } w) return;
        // Only what a search can be expected to end in: clean, or an invariant (never deadlock or a soak verdict).
        if (Verdicts.TryParse(w.Text, out var v) && (v == Verdict.Clean || v.IsViolation())) _expect = new Expectation(v, w.At);
        else Error(w.At, $"expected clean or an invariant O1..O7, found '{w.Text}'");
    }

    private void Explore(Cursor c)
    {
        if (c.Next("random, pct or dfs") is not { } s) return;
        if (s.Text is not ("random" or "pct" or "dfs")) { Error(s.At, $"expected random, pct or dfs, found '{s.Text}'"); return; }
        var search = _search with { Strategy = s.Text };
        while (c.More)
        {
            var key = c.Next("schedules, depth or bound")!.Value;
            switch (key.Text)
            {
                case "schedules": if (c.Int("a schedule count", 1, int.MaxValue) is { } n) search = search with { Schedules = n }; break;
                case "depth": if (c.Int("a PCT depth", 1, 64) is { } d) search = search with { PctDepth = d }; break;
                case "bound": if (c.Int("a preemption bound", 0, 64) is { } b) search = search with { PreemptionBound = b }; break;
                default: Error(key.At, $"expected schedules, depth or bound, found '{key.Text}'"); return;
            }
        }
        _search = search;
    }

    private void FileOrDevice(Cursor c, bool device)
    {
        if (c.Next(device ? "a device name" : "a file name") is not { } name) return;
        int pages = 0;
        if (c.Accept("pages")) pages = c.Int("a page count", 0, 1 << 20) ?? 0;
        else if (device) Error(c.Here, "expected 'pages N' (the device PFNs the driver owns)");
        if (_files.Any(f => f.Name == name.Text)) Error(name.At, $"file or device '{name.Text}' is declared twice");
        _files.Add(new FileDecl(name.Text, device, pages, name.At));
    }

    private void Thread(Cursor c)
    {
        if (c.Next("a thread name") is not { } name) return;
        if (_threads.Any(t => t.Name == name.Text)) Error(name.At, $"thread '{name.Text}' is declared twice");
        int cpu = -1;
        SourceSpan cpuAt = c.Here;
        string? mm = null;
        var kind = ThreadKind.User;
        bool ats = false;
        while (c.More)
        {
            var w = c.Next("cpu, mm, user, kernel, hardware, host, sva or ats")!.Value;
            switch (w.Text)
            {
                case "sva": kind = ThreadKind.Device; break;
                case "host": kind = ThreadKind.Host; break;
                case "ats": ats = true; break;
                case "cpu": cpuAt = c.Here; cpu = c.Int("a CPU index", 0, CpuMask.MaxCpus - 1) ?? 0; break;
                case "mm": mm = c.Next("an mm name")?.Text; break;
                case "user": kind = ThreadKind.User; break;
                case "kernel": kind = ThreadKind.Kernel; break;
                case "hardware": kind = ThreadKind.Hardware; break;
                default: Error(w.At, $"expected cpu N, mm NAME, user, kernel, hardware, host, sva or ats, found '{w.Text}'"); break;
            }
        }
        if (ats && kind != ThreadKind.Device) Error(name.At, "'ats' applies to an sva (device) thread");
        if (kind == ThreadKind.Host && (cpu >= 0 || mm is not null)) Error(name.At, "a host thread is the hypervisor's vCPU scheduler: it runs on no guest CPU and in no mm");
        if (kind is ThreadKind.Device or ThreadKind.Host) cpu = Math.Max(cpu, 0);
        else if (cpu < 0) Error(name.At, $"thread '{name.Text}' needs 'cpu N'");
        if (mm is null && kind is not (ThreadKind.Kernel or ThreadKind.Host)) Error(name.At, $"a {kind.ToString().ToLowerInvariant()} thread needs 'mm NAME'");
        _threads.Add((name.Text, kind, Math.Max(cpu, 0), mm, [], name.At, cpuAt, ats));
        _block = Block.Thread;
    }

    private void MmLine(Cursor c)
    {
        var mm = _mms[^1];
        switch (c.Head.Text)
        {
            case "vma":
                if (Range(c) is not { } r) break;
                var (flags, file, pgoff) = Mapping(c, requireProt: true);
                mm.Vmas.Add(new VmaDecl(r.Start, r.Length, flags, file, pgoff, c.Head.At));
                break;
            case "populate":
                if (Range(c) is { } p) mm.Populate.Add(new PopulateDecl(p.Start, p.Length, c.Head.At, c.Accept("ro")));
                break;
            default:
                Error(c.Head.At, $"unknown line '{c.Head.Text}' in mm '{mm.Name}'; expected vma, populate, or a directive ({string.Join(", ", Directives)})");
                return;
        }
        c.End();
    }

    private void WorkloadLine(Cursor c)
    {
        var w = _workload!;
        string key = c.Head.Text;
        int? v = key switch
        {
            "threads" => c.Int("a thread count", 1, CpuMask.MaxCpus),
            "ops" => c.Int("operations per thread", 1, 1_000_000),
            "pages" => c.Int("pages per region", 1, ProgramLimits.MaxWorkloadPages),
            "mms" => c.Int("an mm count", 1, 1024),
            "preempt" => c.Int("vCPU preemptions", 0, 100_000),
            "slice" => c.Int("steps a preempted vCPU stays descheduled", 1, 1_000_000),
            _ => null,
        };
        if (v is int n)
            _workload = key switch
            {
                "threads" => w with { Threads = n },
                "ops" => w with { Ops = n },
                "pages" => w with { Pages = n },
                "preempt" => w with { Preempt = n },
                "slice" => w with { Slice = n },
                _ => w with { Mms = n },
            };
        else if (key is not ("threads" or "ops" or "pages" or "mms" or "preempt" or "slice"))
        {
            Error(c.Head.At, $"unknown workload parameter '{key}'; expected threads, ops, pages, mms, preempt, slice, or a directive ({string.Join(", ", Directives)})");
            return;
        }
        c.End();
    }

    private (ulong Start, ulong Length)? Range(Cursor c)
    {
        var at = c.Here;
        if (c.Number("an address") is not { } start) return null;
        var lenAt = c.Here;
        if (c.Number("a length in bytes") is not { } length) return null;
        if (start % PageGeometry.PageSize != 0) { Error(at, $"address 0x{start:x} is not page-aligned (4K)"); return null; }
        if (length == 0 || length % PageGeometry.PageSize != 0) { Error(lenAt, $"length {length} must be a positive multiple of 4K"); return null; }
        if (start + length < start) { Error(lenAt, $"0x{start:x} + {length} runs past the end of the address space"); return null; }
        return (start, length);
    }

    private VmaFlags? Prot(Cursor c)
    {
        if (c.Next("a protection (r, rw, rx, rwx or none)") is not { } w) return null;
        if (w.Text == "none") return VmaFlags.None;
        VmaFlags f = 0;
        foreach (char ch in w.Text)
        {
            VmaFlags bit = ch switch { 'r' => VmaFlags.Read, 'w' => VmaFlags.Write, 'x' => VmaFlags.Exec, _ => (VmaFlags)uint.MaxValue };
            if (bit == (VmaFlags)uint.MaxValue || (f & bit) != 0) { Error(w.At, $"expected a protection (r, rw, rx, rwx or none), found '{w.Text}'"); return null; }
            f |= bit;
        }
        return f;
    }

    private (VmaFlags Flags, string? File, ulong PgOff) Mapping(Cursor c, bool requireProt)
    {
        var flags = (requireProt ? Prot(c) : VmaFlags.None) ?? VmaFlags.None;
        string? file = null;
        ulong pgoff = 0;
        while (c.More)
        {
            var w = c.Peek!.Value;
            switch (w.Text)
            {
                case "shared": c.Next(""); flags |= VmaFlags.Shared; break;
                case "pfnmap": c.Next(""); flags |= VmaFlags.PfnMap; break;
                case "mixedmap": c.Next(""); flags |= VmaFlags.MixedMap; break;
                case "hugetlb": c.Next(""); flags |= VmaFlags.HugeTlb; break;
                case "file": case "device": c.Next(""); file = c.Next($"a {w.Text} name")?.Text; break;
                case "pgoff": c.Next(""); pgoff = c.Number("a file page offset") ?? 0; break;
                default: return (flags, file, pgoff);
            }
        }
        return (flags, file, pgoff);
    }

    private void OpLine(Cursor c)
    {
        var head = c.Head;
        if (!Operations.TryGetValue(head.Text, out var kind))
        {
            Error(head.At, $"unknown operation '{head.Text}'; expected one of: {string.Join(", ", Operations.Keys)} (or a directive: {string.Join(", ", Directives)})");
            return;
        }
        ulong address = 0, length = 0, address2 = 0;
        VmaFlags flags = 0;
        string? name = null;
        bool write = false;
        int count = 0;
        var addresses = new List<ulong>();
        switch (kind)
        {
            case OpKind.Read or OpKind.Write or OpKind.Exec or OpKind.Collapse:
                address = Address(c) ?? 0;
                break;
            case OpKind.Mmap:
                if (Range(c) is { } mr) (address, length) = mr;
                (flags, name, address2) = Mapping(c, requireProt: true);
                break;
            case OpKind.Munmap:
                if (Range(c) is { } ur) (address, length) = ur;
                break;
            case OpKind.Mprotect:
                if (Range(c) is { } pr) (address, length) = pr;
                flags = Prot(c) ?? 0;
                break;
            case OpKind.Mremap:
                if (Range(c) is { } rr) (address, length) = rr;
                address2 = Address(c) ?? 0;
                break;
            case OpKind.MadviseDontneed:
                var advice = c.Next("dontneed, free, guard or guard-remove");
                kind = advice?.Text switch
                {
                    "dontneed" => OpKind.MadviseDontneed, "free" => OpKind.MadviseFree, "guard" => OpKind.MadviseGuard,
                    "guard-remove" => OpKind.MadviseGuardRemove, _ => kind,
                };
                if (advice is { } a && a.Text is not ("dontneed" or "free" or "guard" or "guard-remove"))
                    Error(a.At, $"expected dontneed, free, guard or guard-remove, found '{a.Text}'");
                if (Range(c) is { } ar) (address, length) = ar;
                break;
            case OpKind.Fork:
                name = c.Next("the child mm's name")?.Text;
                break;
            case OpKind.Exit:
                if (c.More && c.Peek!.Value.Text != "times") name = c.Next("")!.Value.Text;
                break;
            case OpKind.Gup or OpKind.GupFast:
                address = Address(c) ?? 0;
                length = 1;
                if (kind == OpKind.Gup && c.Accept("pages")) length = (ulong)(c.Int("a page count", 1, 1 << 16) ?? 1);
                write = c.Accept("write");
                break;
            case OpKind.UnmapMappingRange or OpKind.Revoke or OpKind.Truncate:
                name = c.Next(kind switch { OpKind.Revoke => "a device name", OpKind.Truncate => "a file name", _ => "a file or device name" })?.Text;
                length = 1;
                if (c.Accept("pgoff")) address2 = c.Number("a file page offset") ?? 0;
                if (c.Accept("pages")) length = (ulong)(c.Int("a page count", 1, 1 << 20) ?? 1);
                break;
            case OpKind.Vmalloc or OpKind.Vfree:
                if (Range(c) is { } vr) (address, length) = vr;
                break;
            case OpKind.SwitchMm:
                name = c.Next("an mm name")?.Text;
                break;
            case OpKind.DmaRead or OpKind.DmaWrite:
                address = Address(c) ?? 0;
                break;
            case OpKind.WaitFor:
                name = c.Next("a thread name")?.Text;
                break;
            case OpKind.VcpuPreempt or OpKind.VcpuResume:
                address = (ulong)(c.Int("a vCPU index", 0, CpuMask.MaxCpus - 1) ?? 0);
                if (kind == OpKind.VcpuPreempt && c.Accept("for")) count = c.Int("a time slice in steps", 1, 1_000_000) ?? 0;
                break;
            case OpKind.Speculate:
                if (c.Next("addresses (comma-separated)") is { } list)
                    foreach (var part in list.Text.Split(','))
                        if (TryNumber(part, out ulong v)) addresses.Add(v);
                        else Error(list.At, $"expected comma-separated addresses, found '{part}'");
                count = 1;
                if (c.Accept("walks")) count = c.Int("a walk count", 1, 1_000_000) ?? 1;
                break;
        }
        ulong value = 1;
        if (kind == OpKind.Write && c.Accept("=")) value = c.Number("the value the write stores") ?? 1;
        int times = 1;
        string label = $"{_threads[^1].Name}.{_threads[^1].Ops.Count + 1}";
        OutcomeAssertion? assert = null;
        while (c.More)
        {
            var w = c.Peek!.Value;
            if (c.Accept("times")) times = c.Int("a repetition count", 1, 100_000) ?? 1;
            else if (c.Accept("as"))
            {
                if (c.Next("a name for the operation's outcome") is not { } n) break;
                if (!IsOutcomeName(n.Text)) Error(n.At, $"an outcome name is a letter or '_' followed by letters, digits or '_', found '{n.Text}'");
                else if (_labels.TryGetValue(n.Text, out var first)) Error(n.At, $"outcome name '{n.Text}' is already used at {first}");
                else (label, _labels[n.Text]) = (n.Text, n.At);
            }
            else if (c.Accept("=>"))
            {
                if (Outcome(c, "the outcome the operation must return") is not { } expected) break;
                int? faults = c.Accept("faults") ? c.Int("a page-fault count", 0, 1000) : null;
                assert = new OutcomeAssertion(expected, faults, w.At);
            }
            else break;
        }
        c.End();
        _threads[^1].Ops.Add(new OpDecl(kind, address, length, address2, flags, name, write, addresses, count, times, head.At, label, value, assert));
    }

    /// <summary>
    /// Reads a final condition, the rest of its line: <c>NAME=OUTCOME</c> and <c>NAME!=OUTCOME</c> terms joined by
    /// <c>/\</c> (or <c>and</c>), <c>\/</c> (or <c>or</c>), negated by <c>~</c> (or <c>not</c>), grouped by parentheses, as
    /// herd7 writes them; <c>/\</c> binds tighter than <c>\/</c>. Words may run together (<c>(a=0</c>).
    /// </summary>
    private sealed class ConditionReader
    {
        private readonly ScenarioParser _p;
        private readonly List<Word> _tokens = [];
        private readonly SourceSpan _end;
        private int _i;

        public ConditionReader(ScenarioParser parser, Cursor c)
        {
            _p = parser;
            _end = c.Here;
            while (c.More)
            {
                var w = c.Next("")!.Value;
                foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(w.Text, @"\(|\)|/\\|\\/|!=|=|~|[^()=!~/\\]+|."))
                    _tokens.Add(new Word(m.Value, w.At with { Column = w.At.Column + m.Index }));
            }
        }

        private Word? Peek => _i < _tokens.Count ? _tokens[_i] : null;
        private SourceSpan Here => Peek?.At ?? _end;

        private bool Accept(params string[] words)
        {
            if (Peek is not { } w || !words.Contains(w.Text)) return false;
            _i++;
            return true;
        }

        public Condition? Read()
        {
            if (_tokens.Count == 0) { _p.Error(_end, "expected a condition over outcomes, e.g. 'reader.1=0 /\\ writer.2=segv'"); return null; }
            var cond = Or();
            if (cond is not null && Peek is { } extra) { _p.Error(extra.At, $"unexpected '{extra.Text}' in the condition"); return null; }
            return cond;
        }

        private Condition? Or()
        {
            var left = And();
            while (left is not null && Accept("\\/", "or")) left = And() is { } right ? new Condition.Or(left, right) : null;
            return left;
        }

        private Condition? And()
        {
            var left = Unary();
            while (left is not null && Accept("/\\", "and")) left = Unary() is { } right ? new Condition.And(left, right) : null;
            return left;
        }

        private Condition? Unary()
        {
            if (Accept("~", "not")) return Unary() is { } inner ? new Condition.Not(inner) : null;
            if (Accept("("))
            {
                var inner = Or();
                if (inner is null) return null;
                if (!Accept(")")) { _p.Error(Here, "expected ')'"); return null; }
                return inner;
            }
            if (Peek is not { } name || !IsOutcomeName(name.Text.Replace(".", "_")))
            {
                _p.Error(Here, $"expected an operation's outcome name (its 'as NAME', or THREAD.N){(Peek is { } f ? $", found '{f.Text}'" : "")}");
                return null;
            }
            _i++;
            bool equal;
            if (Accept("=")) equal = true;
            else if (Accept("!=")) equal = false;
            else { _p.Error(Here, $"expected '=' or '!=' after '{name.Text}'"); return null; }
            if (Peek is not { } value) { _p.Error(Here, $"expected an outcome: {OpOutcome.Syntax}"); return null; }
            _i++;
            // "-EFAULT" lexes as one token; a value may not contain the operators.
            if (OpOutcome.TryParseWord(value.Text, out var o)) return new Condition.Compare(name.Text, o, equal, name.At);
            if (TryNumber(value.Text, out ulong v) && v <= long.MaxValue) return new Condition.Compare(name.Text, new OpOutcome(OutcomeKind.Value, (long)v), equal, name.At);
            _p.Error(value.At, $"expected an outcome: {OpOutcome.Syntax}; found '{value.Text}'");
            return null;
        }
    }

    private static bool IsOutcomeName(string text) =>
        text.Length > 0 && (char.IsAsciiLetter(text[0]) || text[0] == '_') && text.All(ch => char.IsAsciiLetterOrDigit(ch) || ch == '_');

    /// <summary>An outcome word (<see cref="OpOutcome.TryParseWord"/>) or a number.</summary>
    private OpOutcome? Outcome(Cursor c, string expected)
    {
        if (c.Next(expected) is not { } w) return null;
        if (OpOutcome.TryParseWord(w.Text, out var o)) return o;
        if (TryNumber(w.Text, out ulong v) && v <= long.MaxValue) return new OpOutcome(OutcomeKind.Value, (long)v);
        Error(w.At, $"expected {expected}: {OpOutcome.Syntax}; found '{w.Text}'");
        return null;
    }

    private ulong? Address(Cursor c) => c.Number("an address");

    /// <summary>Decimal, 0x hex, optional K/M/G suffix, underscores allowed.</summary>
    internal static bool TryNumber(string text, out ulong value)
    {
        value = 0;
        string t = text.Replace("_", "");
        ulong scale = 1;
        if (t.Length > 1 && char.ToUpperInvariant(t[^1]) is 'K' or 'M' or 'G' && !t.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            scale = char.ToUpperInvariant(t[^1]) switch { 'K' => 1UL << 10, 'M' => 1UL << 20, _ => 1UL << 30 };
            t = t[..^1];
        }
        bool ok = t.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(t.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
            : ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        if (!ok) return false;
        try { value = checked(value * scale); } catch (OverflowException) { return false; }
        return true;
    }

    private Scenario Finish(string hash)
    {
        var start = new SourceSpan(_file, 1, 1);
        if (_backend is null) Error(start, "expected 'backend NAME' (a backend from plugins.json)");
        if (_workload is not null && _threads.Count > 0) Error(_threads[0].At, "a workload scenario generates its threads; remove the thread blocks or the workload");
        if (_workload is null && _threads.Count == 0 && _errors.Count == 0) Error(start, "expected at least one 'thread' block (or a 'workload')");
        Check();
        if (_final is not null)
        {
            var names = _threads.SelectMany(t => t.Ops.Select(o => o.Label)).ToHashSet(StringComparer.Ordinal);
            foreach (var (name, at) in _final.Condition.Names())
                if (!names.Contains(name))
                    Error(at, $"no operation's outcome is called '{name}'; an operation is called by its 'as NAME', else THREAD.N (N counts the thread's operations from 1)");
        }
        if (_errors.Count > 0) throw new ScenarioException(_errors.OrderBy(e => e.At.Line).ThenBy(e => e.At.Column).ToList());
        return new Scenario
        {
            Path = _file,
            Hash = hash,
            Name = _name ?? System.IO.Path.GetFileNameWithoutExtension(_file),
            Backend = _backend!,
            BackendAt = _backendAt,
            Smmu = _smmu,
            SmmuAt = _smmuAt,
            Mmu = _mmu,
            MmuAt = _mmuAt,
            Options = _options,
            Cost = _cost,
            FailAlloc = _failAlloc,
            Expect = _expect ?? new Expectation(Verdict.Clean, start),
            Final = _final,
            Search = _search,
            Files = _files,
            Mms = _mms.Select(m => new MmDecl(m.Name, m.Vmas, m.Populate, m.At)).ToList(),
            Threads = _threads.Select(t => new ThreadDecl(t.Name, t.Kind, t.Cpu, t.Mm, t.Ops, t.At, t.CpuAt, t.Ats)).ToList(),
            Workload = _workload,
        };
    }

    /// <summary>
    /// Static checks: names resolve; CPU indices are below <c>cpus</c>; each address an operation names lies in a VMA
    /// its mm can have at some point (declared, mmap'd or mremap'd into by any thread of that mm, inherited by fork;
    /// kernel addresses: a vmalloc range).
    /// </summary>
    private void Check()
    {
        CheckLimits();
        // A name declared twice was reported where it was; the checks below go on with the first declaration.
        var files = _files.DistinctBy(f => f.Name).ToDictionary(f => f.Name);
        var ranges = _mms.DistinctBy(m => m.Name).ToDictionary(m => m.Name, m => m.Vmas.Select(v => (v.Start, v.End)).ToList());
        foreach (var m in _mms)
        {
            foreach (var v in m.Vmas)
            {
                CheckFile(v.File, v.Flags, v.At, files);
                if (m.Vmas.Any(o => !ReferenceEquals(o, v) && o.Start < v.End && v.Start < o.End && m.Vmas.IndexOf(o) < m.Vmas.IndexOf(v)))
                    Error(v.At, $"VMA [0x{v.Start:x}, 0x{v.End:x}) overlaps another VMA of mm '{m.Name}'");
            }
            if (_incompleteMms.Contains(m.Name)) continue;
            foreach (var p in m.Populate)
                if (FirstUncovered(p.Start, p.Start + p.Length, m.Vmas.Select(v => (v.Start, v.End))) is ulong a) Error(p.At, $"address 0x{a:x} is outside every VMA of mm '{m.Name}'");
        }

        // What each thread's mm can map: first pass collects mmap/mremap/fork targets, second pass checks addresses.
        var vmalloc = new List<(ulong Start, ulong End)>();
        foreach (var t in _threads)
        {
            string? mm = t.Mm;
            foreach (var op in t.Ops)
            {
                if (op.Kind == OpKind.SwitchMm) mm = op.Name;
                // vmalloc maps into init_mm, whoever asks: a kernel thread with no mm of its own too.
                if (op.Kind == OpKind.Vmalloc) vmalloc.Add((op.Address, op.Address + op.Length));
                if (mm is null || !ranges.TryGetValue(mm, out var r)) continue;
                if (op.Kind == OpKind.Mmap) r.Add((op.Address, op.Address + op.Length));
                if (op.Kind == OpKind.Mremap) r.Add((op.Address2, op.Address2 + op.Length));
                if (op.Kind == OpKind.Fork && op.Name is { } child)
                {
                    if (ranges.ContainsKey(child)) Error(op.At, $"fork's child '{child}' is already an mm name");
                    else ranges[child] = r;
                }
            }
        }
        foreach (var t in _threads)
        {
            if (t.Mm is { } tm && !ranges.ContainsKey(tm)) Error(t.At, $"unknown mm '{tm}'; declared: {List(ranges.Keys)}");
            if (t.Kind == ThreadKind.Device && _smmu is null) Error(t.At, "an sva thread needs 'smmu BACKEND' (the secondary-MMU backend it translates through)");
            if (t.Kind != ThreadKind.Device && t.Cpu >= _options.Cpus) Error(t.CpuAt, $"CPU index {t.Cpu} is out of range: the machine has {_options.Cpus} CPU(s) (0..{_options.Cpus - 1}; set 'cpus N')");
            string? mm = t.Mm;
            if (t.Kind == ThreadKind.Host) { CheckHost(t.Ops); continue; }
            foreach (var op in t.Ops)
            {
                if (op.Kind is OpKind.VcpuPreempt or OpKind.VcpuResume)
                {
                    Error(op.At, $"'{Keyword(op.Kind)}' is the hypervisor's: it runs on a host thread ('thread NAME host')");
                    continue;
                }
                // A device's DMA engine issues DMA and nothing else: CPU operations need a CPU and its TLB.
                if (t.Kind == ThreadKind.Device && op.Kind is not (OpKind.DmaRead or OpKind.DmaWrite or OpKind.Unbind or OpKind.WaitFor))
                {
                    Error(op.At, $"'{Keyword(op.Kind)}' runs on a CPU thread; an sva thread runs dma-read, dma-write, unbind and wait-for");
                    continue;
                }
                switch (op.Kind)
                {
                    case OpKind.SwitchMm or OpKind.Exit when op.Name is { } n && !ranges.ContainsKey(n):
                        Error(op.At, $"unknown mm '{n}'; declared or forked: {List(ranges.Keys)}");
                        continue;
                    case OpKind.SwitchMm:
                        mm = op.Name;
                        continue;
                    case OpKind.Mmap:
                        CheckFile(op.Name, op.Flags, op.At, files);
                        continue;
                    case OpKind.UnmapMappingRange or OpKind.Revoke or OpKind.Truncate:
                        if (op.Name is null) continue;
                        if (!files.TryGetValue(op.Name, out var f)) Error(op.At, $"unknown file or device '{op.Name}'; declared: {List(files.Keys)}");
                        else if (op.Kind == OpKind.Revoke && !f.IsDevice) Error(op.At, $"'{op.Name}' is a file, not a device: only a driver's device PFNs are revoked");
                        else if (op.Kind == OpKind.Truncate && f.IsDevice) Error(op.At, $"'{op.Name}' is a device: its PFNs are the driver's, not page cache; truncate a file");
                        continue;
                    case OpKind.Vmalloc or OpKind.Vfree:
                        if (op.Address < AddressLayout.KernelStart) Error(op.At, $"address 0x{op.Address:x} is not a kernel address (>= 0x{AddressLayout.KernelStart:x}); vmalloc area starts at 0x{AddressLayout.VmallocStart:x}");
                        continue;
                    case OpKind.Read or OpKind.Write or OpKind.Exec or OpKind.Munmap or OpKind.Mprotect or OpKind.Mremap
                        or OpKind.MadviseDontneed or OpKind.MadviseFree or OpKind.MadviseGuard or OpKind.MadviseGuardRemove or OpKind.Gup or OpKind.GupFast or OpKind.Collapse:
                        ulong len = op.Kind is OpKind.Gup or OpKind.GupFast ? op.Length * PageGeometry.PageSize : Math.Max(op.Length, 1);
                        CheckAddress(op, op.Address, len, mm, ranges, vmalloc, t.Kind);
                        continue;
                    case OpKind.DmaRead or OpKind.DmaWrite or OpKind.Unbind:
                        if (t.Kind != ThreadKind.Device) { Error(op.At, $"{op.Kind switch { OpKind.Unbind => "unbind", OpKind.DmaRead => "dma-read", _ => "dma-write" }} runs on an sva thread ('thread NAME sva mm M')"); continue; }
                        if (op.Kind != OpKind.Unbind) CheckAddress(op, op.Address, 1, mm, ranges, vmalloc, t.Kind);
                        continue;
                    case OpKind.WaitFor:
                        if (!_threads.Any(o => o.Name == op.Name)) Error(op.At, $"unknown thread '{op.Name}'; declared: {List(_threads.Select(o => o.Name))}");
                        else if (op.Name == t.Name) Error(op.At, "a thread cannot wait for itself to finish");
                        continue;
                    case OpKind.Speculate:
                        if (t.Kind != ThreadKind.Hardware) Error(op.At, "speculate runs on a hardware thread ('thread NAME cpu N mm M hardware')");
                        if (op.Addresses.Count == 0) Error(op.At, "speculate needs at least one address");
                        foreach (var a in op.Addresses) CheckAddress(op, a, 1, mm, ranges, vmalloc, t.Kind);
                        continue;
                }
            }
        }
    }

    /// <summary>
    /// A host thread preempts and resumes vCPUs below <c>cpus</c> (and may wait for a thread), each preempted vCPU
    /// resumed later by the same thread: a vCPU left descheduled would hold its threads forever.
    /// </summary>
    private void CheckHost(List<OpDecl> ops)
    {
        var preempted = new Dictionary<int, SourceSpan>();
        foreach (var op in ops)
        {
            if (op.Kind == OpKind.WaitFor)
            {
                if (!_threads.Any(o => o.Name == op.Name)) Error(op.At, $"unknown thread '{op.Name}'; declared: {List(_threads.Select(o => o.Name))}");
                continue;
            }
            if (op.Kind is not (OpKind.VcpuPreempt or OpKind.VcpuResume))
            {
                Error(op.At, $"a host thread runs vcpu-preempt, vcpu-resume and wait-for; '{Keyword(op.Kind)}' runs in the guest");
                continue;
            }
            int v = (int)op.Address;
            if (v >= _options.Cpus) { Error(op.At, $"vCPU {v} is out of range: the machine has {_options.Cpus} CPU(s)"); continue; }
            if (op.Times != 1) { Error(op.At, $"'{Keyword(op.Kind)}' runs once per line: preempt and resume alternate"); continue; }
            if (op.Kind == OpKind.VcpuPreempt && !preempted.TryAdd(v, op.At)) Error(op.At, $"vCPU {v} is already preempted (at {preempted[v]}); resume it first");
            else if (op.Kind == OpKind.VcpuResume && !preempted.Remove(v)) Error(op.At, $"vCPU {v} is not preempted here; preempt it first");
        }
        foreach (var (v, at) in preempted) Error(at, $"vCPU {v} is never resumed: its threads would wait forever; add 'vcpu-resume {v}'");
    }

    private static string Keyword(OpKind kind) => kind switch
    {
        OpKind.MadviseDontneed or OpKind.MadviseFree or OpKind.MadviseGuard or OpKind.MadviseGuardRemove => "madvise",
        _ => Operations.First(o => o.Value == kind).Key,
    };

    /// <summary>The first address of [<paramref name="start"/>, <paramref name="end"/>) in no VMA, or null: one step per VMA, not per page.</summary>
    private static ulong? FirstUncovered(ulong start, ulong end, IEnumerable<(ulong Start, ulong End)> ranges)
    {
        var list = ranges.ToList();
        for (ulong a = start; a < end;)
        {
            int i = list.FindIndex(r => a >= r.Start && a < r.End);
            if (i < 0) return a;
            a = list[i].End;
        }
        return null;
    }

    /// <summary>The setup and the queued work stay within <see cref="ProgramLimits"/>.</summary>
    private void CheckLimits()
    {
        long frames = _files.Sum(f => (long)f.Pages) + _mms.Sum(m => m.Populate.Sum(p => (long)(p.Length / PageGeometry.PageSize)));
        if (frames > ProgramLimits.MaxSetupFrames)
            Error(new SourceSpan(_file, 1, 1), $"the setup asks for {frames:N0} pages (files, devices and populated ranges); at most {ProgramLimits.MaxSetupFrames:N0} (4 GiB of simulated memory)");
        long ops = _threads.Sum(t => t.Ops.Sum(o => (long)o.Times));
        if (_workload is { } w) ops += (long)(w.Threads == 0 ? _options.Cpus : w.Threads) * w.Ops;   // threads 0: one per CPU
        if (ops > ProgramLimits.MaxOperations)
            Error(_workload?.At ?? _threads[0].At, $"the threads queue {ops:N0} operations (times N counts N); at most {ProgramLimits.MaxOperations:N0}");
    }

    private void CheckAddress(OpDecl op, ulong address, ulong length, string? mm, Dictionary<string, List<(ulong Start, ulong End)>> ranges,
        List<(ulong Start, ulong End)> vmalloc, ThreadKind kind)
    {
        if (address >= AddressLayout.KernelStart)
        {
            if (!vmalloc.Any(r => address >= r.Start && address < r.End))
                Error(op.At, $"kernel address 0x{address:x} is outside every vmalloc range of this scenario");
            return;
        }
        // An mm whose block has a line in error may lack the VMA the address needs: that line's error says enough.
        if (mm is null || _incompleteMms.Contains(mm) || !ranges.TryGetValue(mm, out var r)) return;
        if (FirstUncovered(address & ~(PageGeometry.PageSize - 1), address + length, r) is ulong a)
            Error(op.At, $"address 0x{a:x} is outside every VMA mm '{mm}' can have (declared, mmap'd, mremap'd or inherited)");
    }

    private void CheckFile(string? name, VmaFlags flags, SourceSpan at, Dictionary<string, FileDecl> files)
    {
        bool pfn = (flags & (VmaFlags.PfnMap | VmaFlags.MixedMap)) != 0;
        if (name is null)
        {
            if (pfn) Error(at, "a pfnmap/mixedmap mapping needs 'device NAME'");
            return;
        }
        if (!files.TryGetValue(name, out var f)) { Error(at, $"unknown file or device '{name}'; declared: {List(files.Keys)}"); return; }
        if (pfn && !f.IsDevice) Error(at, $"'{name}' is a file: a pfnmap/mixedmap mapping needs a device");
    }

    private static string List(IEnumerable<string> names)
    {
        var l = names.ToList();
        return l.Count == 0 ? "(none)" : string.Join(", ", l);
    }
}
