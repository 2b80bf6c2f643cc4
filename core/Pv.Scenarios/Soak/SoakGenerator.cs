// The soak's scenario generator: from a seed, the text of a random concurrent .pvl litmus file (grammar in
// docs/scenarios.md), so that any finding is an ordinary file `pv explore` and `pv replay` read. Same seed and
// target, same text: all randomness is one SplitMix64, every collection is a list walked in order.
//
// Every generated scenario is valid twice over. Statically, it fits its target's MMU model (Litmus/MmuModelFit,
// when bound) and passes ScenarioParser's checks: each address an operation names lies in a VMA its mm can have
// (declared, or an mmap/mremap target generated earlier in the same mm), fork children are exited by the thread
// that forked them, CPU indices are below `cpus`. At run time, under every interleaving, no operation meets a
// VMA layout it refuses (mmap(MAP_FIXED) over a VMA, mremap of anything but one whole VMA): operations that need
// a particular layout only run in an area owned by one thread, whose layout the generator tracks sequentially;
// every other thread only reads, writes or pins there. Shared regions (an anonymous VMA, a file VMA, a driver's
// PFNMAP VMA) get only operations that accept any layout (munmap, mprotect, madvise, accesses, GUP). A driver
// revokes device PFNs only right after its own unmap_mapping_range of them, as a correct driver does, so an O4
// can only come from the kernel side.
//
// The generator leans toward the shapes the zoo's toggles need, so turning one off is measurable: a PFNMAP
// VMA munmapped while its driver zaps and revokes and another CPU keeps reading it (Z3, pfnmap-force-flush),
// and a failing table-batch allocation with a CPU's speculative walker over a range whose page table a
// munmap frees (Z6, batch-failure-invalidate). The verdict is always the oracle's; nothing names a bug.
using Pv.Engine.Sched;

namespace Pv.Scenarios.Soak;

/// <summary>What a generated scenario runs on.</summary>
/// <param name="Backend">The CPU backend (a name from plugins.json).</param>
/// <param name="HostMappings">The backend declares host mappings (UML): the scenario is written the way UML runs (one CPU, nothing populated, no walker or khugepaged).</param>
/// <param name="Options">Era toggles written as <c>option NAME on|off</c>, in order.</param>
public sealed record SoakTarget(string Backend, bool HostMappings, IReadOnlyList<KeyValuePair<string, bool>> Options);

/// <summary>Writes random concurrent litmus scenarios.</summary>
public static class SoakGenerator
{
    /// <summary>The name a generated scenario gives itself (its <c>scenario</c> line).</summary>
    public static string Name(ulong seed) => $"soak-{seed}";

    /// <summary>The .pvl text of scenario <paramref name="seed"/> for <paramref name="target"/>.</summary>
    public static string Generate(ulong seed, SoakTarget target) => new Builder(seed, target).Write();

    private const ulong Page = 4096;
    private const ulong SharedAnonBase = 0x4000_0000;    // each shared region has its own 2 MiB (its own PTE table)
    private const ulong SharedFileBase = 0x4800_0000;
    private const ulong DeviceBase = 0x5000_0000;
    private const ulong OwnedBase = 0x6000_0000;         // thread t's area: OwnedBase + t·OwnedStride
    private const ulong OwnedStride = 0x40_0000;
    private const ulong LandingOffset = 0x20_0000;       // its mremap landing area: the next 2 MiB
    private const int AreaPages = 8;
    private const ulong PmdSize = 0x20_0000;
    private const string FileName = "lib", DeviceName = "gpu";

    private enum Kind : byte { Anon, File, Device }

    /// <summary>A VMA as the generator tracks it: enough to write it and to split it like mprotect/munmap do.</summary>
    private sealed record Vma(ulong Start, ulong End, Kind Kind, string Prot, bool Shared, ulong PgOff)
    {
        public ulong Pages => (End - Start) / Page;

        public string Text => $"0x{Start:x} {Len(End - Start)} {Prot}{(Shared ? " shared" : "")}" + Kind switch
        {
            Kind.Device => $" pfnmap device {DeviceName}",
            Kind.File => $" file {FileName}{(PgOff != 0 ? $" pgoff {PgOff}" : "")}",
            _ => "",
        };

        /// <summary>The part of this VMA inside [start, end), with the file offset it keeps there (as the kernel's split does).</summary>
        public Vma Slice(ulong start, ulong end) =>
            this with { Start = Math.Max(start, Start), End = Math.Min(end, End), PgOff = PgOff + (Math.Max(start, Start) - Start) / Page };
    }

    private sealed class MmPlan(string name)
    {
        public string Name { get; } = name;
        public List<Vma> Declared { get; } = [];
        public List<string> Populate { get; } = [];
        /// <summary>Ranges the parser accepts addresses in: declared VMAs, then mmap/mremap targets as they are generated.</summary>
        public List<(ulong Start, ulong End)> Mappable { get; } = [];
        public Vma? Region(ulong start) => Declared.FirstOrDefault(v => v.Start == start);
    }

    private sealed class ThreadPlan(string name, int index, int cpu, MmPlan mm)
    {
        public string Name { get; } = name;
        public int Cpu { get; } = cpu;
        public MmPlan Mm { get; } = mm;
        public List<string> Ops { get; } = [];
        public ulong Area { get; } = OwnedBase + (ulong)index * OwnedStride;
        public ulong Landing => Area + LandingOffset;
        /// <summary>The VMAs of the owned area and landing area now, in the owner's program order.</summary>
        public List<Vma> Owned { get; } = [];
        /// <summary>Fork children not exited yet.</summary>
        public List<string> Children { get; } = [];
        public int Forks { get; set; }
    }

    /// <summary>
    /// One operation generator: its weight in the draw, and a function that appends the operation's line(s) to the
    /// thread, or returns false when it does not apply now (nothing owned to munmap, no free range to mmap into).
    /// </summary>
    private sealed record OpGen(string Name, int Weight, Func<Builder, ThreadPlan, bool> Add);

    /// <summary>The operations drawn for every thread. Add a generator here to soak a new operation.</summary>
    private static readonly OpGen[] Generators =
    [
        new("access", 30, (b, t) => b.Access(t)),
        new("gup", 5, (b, t) => b.Gup(t)),
        new("gup-fast", 6, (b, t) => b.GupFast(t)),
        new("munmap", 9, (b, t) => b.Munmap(t)),
        new("mprotect", 8, (b, t) => b.Mprotect(t)),
        new("mremap", 6, (b, t) => b.Mremap(t)),
        new("mmap", 6, (b, t) => b.Mmap(t)),
        new("madvise", 8, (b, t) => b.Madvise(t)),
        new("reclaim", 3, (b, t) => b.Add(t, "reclaim")),
        new("fork", 4, (b, t) => b.Fork(t)),
        new("exit", 5, (b, t) => b.Exit(t)),
        new("unmap-mapping-range", 4, (b, t) => b.UnmapFileRange(t)),
        new("truncate", 3, (b, t) => b.Truncate(t)),
        new("collapse", 2, (b, t) => b.Collapse(t)),
    ];

    private sealed class Builder
    {
        private SplitMix64 _rng;
        private readonly ulong _seed;
        private readonly SoakTarget _target;
        private readonly int _cpus;
        private readonly int _filePages, _devicePages;
        private readonly int _failTableBatch;
        private readonly List<MmPlan> _mms = [];
        private readonly List<ThreadPlan> _threads = [];
        private readonly List<string> _hardware = [];

        public Builder(ulong seed, SoakTarget target)
        {
            _seed = seed;
            _target = target;
            _rng = new SplitMix64(seed ^ 0x50A4_50A4_50A4_50A4);
            // UML is uniprocessor (as the zoo's UML entries): under host mappings every thread shares CPU 0.
            int cpus = 2 + Int(3);
            _cpus = target.HostMappings ? 1 : cpus;
            int threads = 2 + Int(3);
            int mms = Chance(3) ? 2 : 1;
            int rounds = 3 + Int(4);
            _filePages = Chance(4) ? 0 : 4 + Int(5);
            _devicePages = Chance(2) ? 1 + Int(2) : 0;
            // Under host mappings no hardware walker runs, so a failing table batch has nothing to race.
            _failTableBatch = !target.HostMappings && Chance(3) ? 1 + Int(2) : 0;
            // Half the scenarios with a device or a failing table batch are focused on that race (Z3: one mm, three
            // CPUs; Z6: a walker over a freed table), with few other operations that could end the search first.
            bool focused = (_devicePages > 0 || _failTableBatch > 0) && Chance(2);
            if (focused)
            {
                (mms, _filePages, rounds) = (1, 0, Int(2));
                // Z3's window (munmap's deferred flush vs. the driver's zap and revoke vs. a reader) is about one
                // schedule in a few hundred even alone: a one-page device, three threads, nothing else.
                if (_devicePages > 0) (threads, _cpus, _devicePages, _failTableBatch, rounds) = (3, target.HostMappings ? 1 : Math.Max(_cpus, 3), 1, 0, 0);
            }

            for (int i = 0; i < mms; i++) _mms.Add(DeclareMm($"m{i}", first: i == 0));
            for (int i = 0; i < threads; i++)
            {
                // Threads sharing a CPU share its mm (a CPU has one mm loaded); under host mappings each has its own.
                var t = new ThreadPlan($"t{i}", i, i % _cpus, _mms[(target.HostMappings ? i : i % _cpus) % mms]);
                _threads.Add(t);
                DeclareOwned(t);
            }
            // Round robin, so a later thread's accesses can land in an earlier thread's mmap/mremap targets and back.
            for (int r = 0; r < rounds; r++)
                foreach (var t in _threads) Draw(t);
            if (_devicePages > 0) DeviceRace();
            if (!focused && Chance(4)) ZapRace();
            if (!focused && _filePages > 0 && Chance(4)) MoveRace();
            foreach (var t in _threads)
                foreach (var child in t.Children) t.Ops.Add($"exit {child}");
            if (!target.HostMappings && (_failTableBatch > 0 || !focused && Chance(2))) Walker();
            if (!target.HostMappings && !focused && _threads.Count < _cpus && Chance(2)) LazyWalker();
            if (!target.HostMappings && !focused && mms > 1 && Chance(3)) SwitchAway();
        }

        private int Int(int n) => _rng.NextInt(n);
        private bool Chance(int oneIn) => _rng.NextInt(oneIn) == 0;
        private T Pick<T>(IReadOnlyList<T> list) => list[Int(list.Count)];
        private string Prot() => Pick(["r", "rw", "rw", "rx", "rwx", "none"]);

        private MmPlan DeclareMm(string name, bool first)
        {
            var mm = new MmPlan(name);
            Declare(mm, new Vma(SharedAnonBase, SharedAnonBase + (ulong)(2 + Int(5)) * Page, Kind.Anon, "rw", false, 0), populate: true);
            if (_filePages > 0 && (first || Chance(2)))
            {
                // Sometimes a whole PMD of the file, so khugepaged (collapse) has a range it may retire the table of.
                ulong pages = Chance(4) ? PmdSize / Page : (ulong)(1 + Int(_filePages));
                Declare(mm, new Vma(SharedFileBase, SharedFileBase + pages * Page, Kind.File, Pick(["r", "rw"]), Chance(2), 0), populate: !Chance(4));
            }
            if (_devicePages > 0 && (first || Chance(2)))
                Declare(mm, new Vma(DeviceBase, DeviceBase + (ulong)_devicePages * Page, Kind.Device, "rw", true, 0), populate: true);
            return mm;
        }

        private void Declare(MmPlan mm, Vma v, bool populate)
        {
            mm.Declared.Add(v);
            mm.Mappable.Add((v.Start, v.End));
            if (!populate) return;
            // Populate all or a prefix; an anonymous page sometimes read-only and clean (its first write takes the wp fault).
            ulong pages = Math.Min(v.Kind != Kind.Device && Chance(3) ? 1 + (ulong)Int((int)v.Pages) : v.Pages, 16);
            bool ro = v.Kind == Kind.Anon && Chance(4);
            // Under host mappings, setup writes PTEs but no host mapping (a populated page would diverge, O6, before
            // anything ran): UML scenarios start unpopulated; the draws above still happen so every target gets the
            // same scenario otherwise.
            if (!_target.HostMappings) mm.Populate.Add($"0x{v.Start:x} {Len(pages * Page)}{(ro ? " ro" : "")}");
        }

        /// <summary>One or two VMAs at the start of the thread's area, anonymous or of the file, leaving free pages to mmap into.</summary>
        private void DeclareOwned(ThreadPlan t)
        {
            ulong at = t.Area;
            int count = 1 + Int(2);
            for (int i = 0; i < count; i++)
            {
                int pages = 1 + Int(3);
                bool file = _filePages > 0 && Chance(3);
                ulong pgoff = file ? (ulong)Int(Math.Max(1, _filePages - pages + 1)) : 0;
                var v = new Vma(at, at + (ulong)pages * Page, file ? Kind.File : Kind.Anon, Pick(["rw", "rw", "r", "rx"]), file && Chance(2), pgoff);
                Declare(t.Mm, v, populate: !Chance(3));
                t.Owned.Add(v);
                at = v.End + (ulong)Int(2) * Page;
            }
        }

        private void Draw(ThreadPlan t)
        {
            int total = Generators.Sum(g => g.Weight);
            for (int attempt = 0; attempt < 8; attempt++)
            {
                int roll = Int(total);
                var gen = Generators.First(g => (roll -= g.Weight) < 0);
                if (gen.Add(this, t)) return;
            }
            Access(t);
        }

        public bool Add(ThreadPlan t, string op)
        {
            t.Ops.Add(op);
            return true;
        }

        /// <summary>A page the thread's mm can have, and the end of the range it lies in.</summary>
        private (ulong Address, ulong End) AnyPage(ThreadPlan t)
        {
            var (start, end) = Pick(t.Mm.Mappable);
            return (start + (ulong)Int((int)((end - start) / Page)) * Page, end);
        }

        public bool Access(ThreadPlan t)
        {
            var (a, _) = AnyPage(t);
            string op = Int(10) switch { < 5 => "read", < 9 => "write", _ => "exec" };
            return Add(t, $"{op} 0x{a:x}{(Chance(4) ? $" times {2 + Int(8)}" : "")}");
        }

        public bool Gup(ThreadPlan t)
        {
            var (a, end) = AnyPage(t);
            int pages = 1 + Int((int)((end - a) / Page));
            return Add(t, $"gup 0x{a:x}{(pages > 1 ? $" pages {pages}" : "")}{(Chance(2) ? " write" : "")}");
        }

        public bool GupFast(ThreadPlan t) => Add(t, $"gup-fast 0x{AnyPage(t).Address:x}{(Chance(2) ? " write" : "")}");

        /// <summary>A sub-range of one of <paramref name="vmas"/>: the whole VMA half the time.</summary>
        private (ulong Start, ulong End)? SubRange(IReadOnlyList<Vma> vmas)
        {
            if (vmas.Count == 0) return null;
            var v = Pick(vmas);
            if (Chance(2)) return (v.Start, v.End);
            ulong first = (ulong)Int((int)v.Pages);
            ulong count = 1 + (ulong)Int((int)(v.Pages - first));
            return (v.Start + first * Page, v.Start + (first + count) * Page);
        }

        /// <summary>Every page of [start, end) lies in a range the parser lets the mm have (a munmap may span several VMAs).</summary>
        private static bool Mappable(MmPlan mm, ulong start, ulong end)
        {
            for (ulong a = start; a < end; a += Page)
                if (!mm.Mappable.Any(r => a >= r.Start && a < r.End)) return false;
            return true;
        }

        /// <summary>A sub-range of a shared region of the thread's mm (any layout accepts what runs there).</summary>
        private (ulong Start, ulong End)? SharedRange(ThreadPlan t, Func<Vma, bool> which) =>
            SubRange(t.Mm.Declared.Where(v => v.Start < OwnedBase && which(v)).ToList());

        /// <summary>Replaces the owned VMAs in [start, end) by <paramref name="inside"/> applied to each piece (null: removed).</summary>
        private static void Reshape(ThreadPlan t, ulong start, ulong end, Func<Vma, Vma?> inside)
        {
            var next = new List<Vma>();
            foreach (var v in t.Owned)
            {
                if (v.End <= start || v.Start >= end) { next.Add(v); continue; }
                if (v.Start < start) next.Add(v.Slice(v.Start, start));
                if (inside(v.Slice(start, end)) is { } changed) next.Add(changed);
                if (v.End > end) next.Add(v.Slice(end, v.End));
            }
            t.Owned.Clear();
            t.Owned.AddRange(next.OrderBy(v => v.Start));
        }

        public bool Munmap(ThreadPlan t)
        {
            // A third of the time a shared region; else the owned area, sometimes all of it (its PTE table is freed).
            var area = t.Owned.Where(v => v.Start < t.Landing).ToList();
            var range = Chance(3) ? SharedRange(t, _ => true)
                : Chance(4) && area.Count > 0 && Mappable(t.Mm, area[0].Start, area[^1].End) ? (area[0].Start, area[^1].End)
                : SubRange(t.Owned);
            if (range is not (var start, var end)) return false;
            if (start >= OwnedBase) Reshape(t, start, end, _ => null);
            return Add(t, $"munmap 0x{start:x} {Len(end - start)}");
        }

        public bool Mprotect(ThreadPlan t)
        {
            var range = Chance(3) ? SharedRange(t, _ => true) : SubRange(t.Owned);
            if (range is not (var start, var end)) return false;
            string prot = Prot();
            if (start >= OwnedBase) Reshape(t, start, end, v => v with { Prot = prot });
            return Add(t, $"mprotect 0x{start:x} {Len(end - start)} {prot}");
        }

        /// <summary>mremap(MREMAP_FIXED) of one whole owned VMA to a free range of the owned or landing area.</summary>
        public bool Mremap(ThreadPlan t)
        {
            if (t.Owned.Count == 0) return false;
            var v = Pick(t.Owned);
            if (FreeRange(t, v.Pages) is not { } to) return false;
            Reshape(t, v.Start, v.End, _ => null);
            t.Owned.Add(v with { Start = to, End = to + (v.End - v.Start) });
            t.Owned.Sort((a, b) => a.Start.CompareTo(b.Start));
            t.Mm.Mappable.Add((to, to + (v.End - v.Start)));
            return Add(t, $"mremap 0x{v.Start:x} {Len(v.End - v.Start)} 0x{to:x}");
        }

        /// <summary>mmap(MAP_FIXED) of an anonymous or file mapping into a free range of the owned or landing area.</summary>
        public bool Mmap(ThreadPlan t)
        {
            ulong pages = 1 + (ulong)Int(3);
            if (FreeRange(t, pages) is not { } at) return false;
            bool file = _filePages > 0 && Chance(2);
            ulong pgoff = file ? (ulong)Int(_filePages) : 0;
            var v = new Vma(at, at + pages * Page, file ? Kind.File : Kind.Anon, Prot(), file && Chance(2), pgoff);
            t.Owned.Add(v);
            t.Owned.Sort((a, b) => a.Start.CompareTo(b.Start));
            t.Mm.Mappable.Add((v.Start, v.End));
            return Add(t, $"mmap {v.Text}");
        }

        /// <summary>A free page-aligned range of <paramref name="pages"/> in the owned area or the landing area, or null.</summary>
        private ulong? FreeRange(ThreadPlan t, ulong pages)
        {
            var free = new List<ulong>();
            foreach (ulong area in (ulong[])[t.Area, t.Landing])
                for (ulong a = area; a + pages * Page <= area + AreaPages * Page; a += Page)
                    if (!t.Owned.Any(v => v.Start < a + pages * Page && a < v.End)) free.Add(a);
            return free.Count == 0 ? null : Pick(free);
        }

        /// <summary>
        /// MADV_DONTNEED / MADV_FREE / MADV_GUARD_INSTALL where the kernel accepts them: never on a PFNMAP VMA
        /// (madvise_dontneed_valid_vma and guard install refuse it), MADV_FREE on anonymous memory only.
        /// </summary>
        public bool Madvise(ThreadPlan t)
        {
            string advice = Pick(["dontneed", "dontneed", "free", "guard", "guard-remove"]);
            Func<Vma, bool> fits = advice == "free" ? v => v.Kind == Kind.Anon : v => v.Kind != Kind.Device;
            var range = Chance(3) ? SharedRange(t, fits) : SubRange(t.Owned.Where(fits).ToList());
            return range is (var start, var end) && Add(t, $"madvise {advice} 0x{start:x} {Len(end - start)}");
        }

        public bool Fork(ThreadPlan t)
        {
            string child = $"{t.Name}c{t.Forks++}";
            t.Children.Add(child);
            return Add(t, $"fork {child}");
        }

        public bool Exit(ThreadPlan t)
        {
            if (t.Children.Count == 0) return false;
            var child = t.Children[0];
            t.Children.RemoveAt(0);
            return Add(t, $"exit {child}");
        }

        /// <summary>A driver (or truncation-like writer) zapping part of the file in every mm that maps it.</summary>
        public bool UnmapFileRange(ThreadPlan t)
        {
            if (_filePages == 0) return false;
            int pgoff = Int(_filePages);
            return Add(t, $"unmap-mapping-range {FileName}{(pgoff > 0 ? $" pgoff {pgoff}" : "")} pages {1 + Int(_filePages - pgoff)}");
        }

        /// <summary>truncate_pagecache_range of part of the file (a hole punched): any thread, any layout.</summary>
        public bool Truncate(ThreadPlan t)
        {
            if (_filePages == 0) return false;
            int pgoff = Int(_filePages);
            return Add(t, $"truncate {FileName}{(pgoff > 0 ? $" pgoff {pgoff}" : "")} pages {1 + Int(_filePages - pgoff)}");
        }

        /// <summary>khugepaged on the shared file region when it spans a whole PMD (else the kernel skips the range); not on UML.</summary>
        public bool Collapse(ThreadPlan t) =>
            !_target.HostMappings // UML has no transparent huge pages, so no khugepaged
            && t.Mm.Region(SharedFileBase) is { } v && v.Pages * Page >= PmdSize && Add(t, $"collapse 0x{v.Start:x}");

        /// <summary>
        /// Two threads of one mm zap the same shared anonymous range while a third keeps reading it: the race
        /// mm_tlb_flush_nested settles (a zap that finds the PTEs already cleared must not return before their flush).
        /// </summary>
        private void ZapRace()
        {
            var mm = _mms[0];
            var users = _threads.Where(t => t.Mm == mm).ToList();
            if (users.Count < 3 || mm.Region(SharedAnonBase) is not { } anon) return;
            string zap = $"madvise dontneed 0x{anon.Start:x} {Len(anon.End - anon.Start)}";
            // First in each thread, so the zaps overlap as often as the scheduler lets them.
            users[0].Ops.Insert(0, zap);
            users[1].Ops.Insert(0, Chance(2) ? zap : $"munmap 0x{anon.Start:x} {Len(anon.End - anon.Start)}");
            users[2].Ops.Insert(0, $"read 0x{anon.Start + (ulong)Int((int)anon.Pages) * Page:x} times {6 + Int(10)}");
        }

        /// <summary>
        /// An owner mremaps a file VMA of its area while another thread truncates the file and a third reads the old
        /// address: mremap must flush the old address before an rmap walker can find and free the moved page.
        /// </summary>
        private void MoveRace()
        {
            // A file VMA the owner declared (so it exists when the owner starts), moved to its landing area, which stays
            // free: only an owner that maps and moves nothing else qualifies.
            var owner = _threads.FirstOrDefault(t => t.Mm.Declared.Any(v => v.Kind == Kind.File && v.Start >= t.Area && v.Start < t.Landing)
                && !t.Ops.Any(op => op.StartsWith("mremap ", StringComparison.Ordinal) || op.StartsWith("mmap ", StringComparison.Ordinal)));
            if (owner is null) return;
            var others = _threads.Where(t => t != owner && t.Mm == owner.Mm).ToList();
            if (others.Count < 2) return;
            var v = owner.Mm.Declared.First(v => v.Kind == Kind.File && v.Start >= owner.Area && v.Start < owner.Landing);
            owner.Ops.Insert(0, $"mremap 0x{v.Start:x} {Len(v.End - v.Start)} 0x{owner.Landing:x}");
            owner.Mm.Mappable.Add((owner.Landing, owner.Landing + (v.End - v.Start)));
            others[0].Ops.Insert(0, $"truncate {FileName}{(v.PgOff > 0 ? $" pgoff {v.PgOff}" : "")} pages {v.Pages}");
            others[1].Ops.Insert(0, $"read 0x{v.Start:x} times {6 + Int(10)}");
        }

        /// <summary>
        /// The device's driver zaps then revokes some of its PFNs (adjacent, as a correct driver does), while another
        /// thread of an mm mapping the device munmaps the whole device VMA and a third keeps reading it (Z3's shape).
        /// </summary>
        private void DeviceRace()
        {
            var driver = Pick(_threads);
            int pgoff = Int(_devicePages), count = 1 + Int(_devicePages - pgoff);
            string pages = $"{(pgoff > 0 ? $" pgoff {pgoff}" : "")} pages {count}";
            int at = Int(driver.Ops.Count + 1);
            driver.Ops.InsertRange(at, [$"unmap-mapping-range {DeviceName}{pages}", $"revoke {DeviceName}{pages}"]);
            var users = _threads.Where(t => t.Mm.Region(DeviceBase) is not null).ToList();
            if (users.Count == 0 || Chance(4)) return;
            var unmapper = Pick(users);
            unmapper.Ops.Insert(Int(unmapper.Ops.Count + 1), $"munmap 0x{DeviceBase:x} {Len((ulong)_devicePages * Page)}");
            var readers = users.Where(u => u != unmapper).ToList();
            if (readers.Count == 0) return;
            var reader = Pick(readers);
            string read = $"read 0x{DeviceBase + (ulong)(pgoff + Int(count)) * Page:x} times {10 + Int(31)}";
            reader.Ops.Insert(0, read);
            if (reader == driver) reader.Ops.Insert(reader.Ops.IndexOf($"revoke {DeviceName}{pages}") + 1, read);
        }

        /// <summary>
        /// A CPU's speculative page walker (a hardware thread) over pages whose tables munmaps may free: the
        /// shared anonymous region and owned areas of the mm loaded on its CPU (that of the CPU's first thread).
        /// </summary>
        private void Walker()
        {
            int cpu = Int(Math.Min(_cpus, _threads.Count));
            var mm = _threads[cpu].Mm;
            var candidates = mm.Declared.Where(v => v.Kind != Kind.Device).ToList();
            var addresses = Enumerable.Range(0, 1 + Int(3)).Select(_ => Pick(candidates)).Select(v => v.Start + (ulong)Int((int)v.Pages) * Page).ToList();
            if (_failTableBatch > 0)
            {
                // Z6's shape: a thread of that mm munmaps the whole shared anonymous region, the only VMA of its PTE
                // table, so free_pgtables frees the table the walker has cached (through the failing batch).
                var anon = mm.Region(SharedAnonBase)!;
                var users = _threads.Where(t => t.Mm == mm && t.Cpu != cpu).ToList();
                var unmapper = Pick(users.Count > 0 ? users : _threads.Where(t => t.Mm == mm).ToList());
                unmapper.Ops.Insert(Int(unmapper.Ops.Count + 1), $"munmap 0x{anon.Start:x} {Len(anon.End - anon.Start)}");
                addresses.Insert(0, anon.Start + (ulong)Int((int)anon.Pages) * Page);
            }
            _hardware.Add($"thread walker cpu {cpu} mm {mm.Name} hardware");
            _hardware.Add($"  speculate {string.Join(',', addresses.Distinct().Select(a => $"0x{a:x}"))} walks {8 + Int(9)}");
        }

        /// <summary>
        /// A CPU no user thread runs on: a kernel thread takes it over lazily (enter_lazy_tlb, the first mm stays
        /// loaded) and the CPU's hardware keeps walking that mm speculatively, so a page table freed without sending
        /// lazy CPUs the flush would still be reachable through its walk cache.
        /// </summary>
        private void LazyWalker()
        {
            int cpu = _cpus - 1;
            var mm = _mms[0];
            var candidates = mm.Declared.Where(v => v.Kind != Kind.Device).ToList();
            var addresses = Enumerable.Range(0, 1 + Int(3)).Select(_ => Pick(candidates)).Select(v => v.Start + (ulong)Int((int)Math.Min(v.Pages, 16)) * Page).ToList();
            if (mm.Region(SharedFileBase) is { } file && file.Pages * Page >= PmdSize)
            {
                // khugepaged retires the PTE table under the file's PMD while the lazy CPU's walk cache may point at it,
                // and while another thread's GUP-fast may be walking it.
                var users = _threads.Where(t => t.Mm == mm).ToList();
                var user = Pick(users);
                user.Ops.Insert(Int(user.Ops.Count + 1), $"collapse 0x{file.Start:x}");
                addresses.Insert(0, file.Start);
                if (users.Where(u => u != user).ToList() is { Count: > 0 } walkers)
                    Pick(walkers).Ops.Insert(0, $"gup-fast 0x{file.Start:x}");
            }
            _hardware.Add($"thread kthread cpu {cpu} mm {mm.Name} kernel");
            _hardware.Add("  lazy");
            _hardware.Add($"thread lazy-walker cpu {cpu} mm {mm.Name} hardware");
            _hardware.Add("  wait-for kthread");
            _hardware.Add($"  speculate {string.Join(',', addresses.Distinct().Select(a => $"0x{a:x}"))} walks {8 + Int(9)}");
        }

        /// <summary>
        /// A thread alone on its CPU switches to another mm and back between two of its operations (switch_mm_irqs_off
        /// twice), so a flush of its mm can race the CPU's switching window.
        /// </summary>
        private void SwitchAway()
        {
            var alone = _threads.Where(t => _threads.Count(o => o.Cpu == t.Cpu) == 1).ToList();
            if (alone.Count == 0) return;
            var t = Pick(alone);
            var other = _mms.First(m => m != t.Mm);
            // It reads a shared page before it switches away and after it is back, while another thread of its mm
            // zaps that page: the flush must reach the CPU even in the middle of its switch.
            var anon = t.Mm.Region(SharedAnonBase)!;
            ulong page = anon.Start + (ulong)Int((int)Math.Min(anon.Pages, 16)) * Page;
            t.Ops.InsertRange(0, [$"read 0x{page:x}", $"switch-mm {other.Name}", $"switch-mm {t.Mm.Name}", $"read 0x{page:x}"]);
            if (_threads.Where(o => o != t && o.Mm == t.Mm).ToList() is { Count: > 0 } zappers)
                Pick(zappers).Ops.Insert(0, $"madvise dontneed 0x{page:x} 4K");
        }

        public string Write()
        {
            var w = new System.Text.StringBuilder();
            w.Append($"# Generated by pv soak (seed {_seed}). Replay: pv explore FILE --strategy pct|random --schedules N\n");
            w.Append($"scenario {Name(_seed)}\nbackend {_target.Backend}\n");
            w.Append($"cpus {_cpus}\n");
            foreach (var (name, on) in _target.Options) w.Append($"option {name} {(on ? "on" : "off")}\n");
            if (_failTableBatch > 0) w.Append($"fail-alloc table-batch {_failTableBatch}\n");
            if (_filePages > 0) w.Append($"file {FileName} pages {_filePages}\n");
            if (_devicePages > 0) w.Append($"device {DeviceName} pages {_devicePages}\n");
            foreach (var mm in _mms)
            {
                w.Append($"\nmm {mm.Name}\n");
                foreach (var v in mm.Declared) w.Append($"  vma {v.Text}\n");
                foreach (var p in mm.Populate) w.Append($"  populate {p}\n");
            }
            w.Append('\n');
            foreach (var t in _threads)
            {
                w.Append($"thread {t.Name} cpu {t.Cpu} mm {t.Mm.Name}\n");
                foreach (var op in t.Ops) w.Append($"  {op}\n");
            }
            foreach (var line in _hardware) w.Append(line).Append('\n');
            return w.ToString();
        }
    }

    private static string Len(ulong bytes) => $"{bytes / 1024}K";
}
