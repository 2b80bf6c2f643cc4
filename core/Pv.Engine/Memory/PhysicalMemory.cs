// Physical frames with a lifetime. Every frame has a kind (free, data page, page-table page, device PFN)
// and a generation that changes each time it is freed and reused, so the oracle can tell an access through
// an old translation from a legitimate one. Freed frames go on a LIFO free list, as the kernel's per-CPU
// page lists do, so a use-after-free meets a reused frame quickly. Page-table frames carry their 512
// entries; a freed table keeps its old contents until reused (what a late walker would read). A reset
// memory is a new one, but keeps the 512-entry arrays of its tables for the next run's tables: a search
// allocates them once per worker, not once per schedule. A data page holds one word of content (zero when
// allocated, as every page the kernel hands to user space is): what a user write stores and a read sees, so an
// outcome can say which page a read reached (the old page's data, or a fresh zero page).
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;

namespace Pv.Engine.Memory;

/// <summary>Where an allocation comes from, so failures can be injected at one site only.</summary>
public enum AllocSite : byte
{
    /// <summary>A data page (fault, COW, page cache).</summary>
    DataPage,
    /// <summary>A page-table page (pte_alloc and upper levels).</summary>
    PageTable,
    /// <summary>The mmu_gather's table batch page (<c>__get_free_page(GFP_NOWAIT)</c> in <c>tlb_remove_table</c>).</summary>
    TableBatch,
    /// <summary>A driver's device PFN.</summary>
    DevicePfn,
}

/// <summary>The machine's frames, their state, and the page-table contents of table frames.</summary>
internal sealed class PhysicalMemory : IFrames
{
    private FrameKind[] _kind;
    private uint[] _generation;
    private int[] _refs;
    private ulong[] _content;
    private ulong[]?[] _entries;
    private int[] _free;
    private int _freeCount;
    private int _next;
    private readonly int[] _failures = new int[4];
    private readonly Metrics.MachineMetrics _metrics;
    private readonly Stack<ulong[]> _spareTables = new();

    internal PhysicalMemory(Metrics.MachineMetrics metrics, int initialFrames = 64)
    {
        _metrics = metrics;
        _kind = new FrameKind[initialFrames];
        _generation = new uint[initialFrames];
        _refs = new int[initialFrames];
        _content = new ulong[initialFrames];
        _entries = new ulong[]?[initialFrames];
        _free = new int[initialFrames];
    }

    /// <summary>
    /// Back to a new memory: no frame handed out, no failure pending. The table arrays of the last run are kept aside
    /// (not left on their frames, which a new memory has never used as tables) and zeroed when a table takes one.
    /// </summary>
    internal void Reset()
    {
        for (int f = 0; f < _next; f++)
        {
            if (_entries[f] is { } table) _spareTables.Push(table);
            _entries[f] = null;
        }
        Array.Clear(_kind, 0, _next);
        Array.Clear(_generation, 0, _next);
        Array.Clear(_refs, 0, _next);
        Array.Clear(_content, 0, _next);
        Array.Clear(_failures);
        _freeCount = 0;
        _next = 0;
    }

    /// <summary>Frames ever handed out (the high-water mark of frame numbers).</summary>
    public int FramesUsed => _next;

    /// <summary>Frames currently on the free list.</summary>
    public int FreeFrames => _freeCount;

    /// <summary>Make the next <paramref name="count"/> allocations at <paramref name="site"/> fail.</summary>
    public void InjectFailures(AllocSite site, int count) => _failures[(int)site] = count;

    /// <inheritdoc/>
    public Pfn Alloc(FrameKind kind) => Alloc(kind switch
    {
        FrameKind.PageTable => AllocSite.PageTable,
        FrameKind.DevicePfn => AllocSite.DevicePfn,
        _ => AllocSite.DataPage,
    }, kind);

    /// <summary>Allocate a frame for <paramref name="kind"/> at <paramref name="site"/>; <see cref="Pfn.None"/> on (injected) failure.</summary>
    public Pfn Alloc(AllocSite site, FrameKind kind)
    {
        if (kind == FrameKind.Free) throw new ArgumentException("cannot allocate a frame as Free", nameof(kind));
        if (_failures[(int)site] > 0)
        {
            _failures[(int)site]--;
            _metrics.AllocFailures.Increment();
            return Pfn.None;
        }
        int f;
        if (_freeCount > 0)
        {
            f = _free[--_freeCount];
            _generation[f]++;
        }
        else
        {
            if (_next == _kind.Length) Grow();
            f = _next++;
        }
        _kind[f] = kind;
        _refs[f] = 1;
        _content[f] = 0;
        if (kind == FrameKind.PageTable)
        {
            // A fresh table is zeroed (pte_alloc uses __GFP_ZERO); a reused frame loses its old contents only now.
            var e = _entries[f];
            if (e is null) _entries[f] = _spareTables.TryPop(out var spare) ? Cleared(spare) : new ulong[PageGeometry.EntriesPerTable];
            else Array.Clear(e);
        }
        return new Pfn((ulong)f);
    }

    private static ulong[] Cleared(ulong[] table)
    {
        Array.Clear(table);
        return table;
    }

    /// <inheritdoc/>
    public void Free(Pfn pfn)
    {
        int f = Index(pfn);
        if (_kind[f] == FrameKind.Free) throw new EngineBugException($"double free of {pfn}");
        _kind[f] = FrameKind.Free;
        _refs[f] = 0;
        if (_freeCount == _free.Length) Array.Resize(ref _free, _free.Length * 2);
        _free[_freeCount++] = f;
    }

    /// <inheritdoc/>
    public FrameInfo Info(Pfn pfn)
    {
        int f = Index(pfn);
        return new FrameInfo(_kind[f], _generation[f]);
    }

    /// <summary><c>get_page</c>: one more reference to a data page.</summary>
    public void Get(Pfn pfn)
    {
        int f = Index(pfn);
        if (_kind[f] != FrameKind.DataPage) throw new EngineBugException($"get_page on {pfn}, which is {_kind[f]}");
        _refs[f]++;
    }

    /// <summary><c>put_page</c>: drop a reference; the last one frees the page. Returns true if it was freed.</summary>
    public bool Put(Pfn pfn)
    {
        int f = Index(pfn);
        if (_kind[f] != FrameKind.DataPage) throw new EngineBugException($"put_page on {pfn}, which is {_kind[f]}");
        if (--_refs[f] > 0) return false;
        Free(pfn);
        return true;
    }

    /// <summary>References held on a data page.</summary>
    public int RefCount(Pfn pfn) => _refs[Index(pfn)];

    /// <summary>The kind of frame <paramref name="pfn"/>.</summary>
    public FrameKind KindOf(Pfn pfn) => _kind[Index(pfn)];

    /// <summary>The generation of frame <paramref name="pfn"/>.</summary>
    public uint GenerationOf(Pfn pfn) => _generation[Index(pfn)];

    /// <summary>The word of content frame <paramref name="pfn"/> holds (what a user read of it sees).</summary>
    public ulong ContentOf(Pfn pfn) => _content[Index(pfn)];

    /// <summary>A user write of <paramref name="value"/> to frame <paramref name="pfn"/>.</summary>
    public void Store(Pfn pfn, ulong value) => _content[Index(pfn)] = value;

    /// <summary><c>copy_user_highpage</c>: <paramref name="to"/> gets <paramref name="from"/>'s content (a COW copy).</summary>
    public void CopyContent(Pfn from, Pfn to) => _content[Index(to)] = _content[Index(from)];

    /// <summary>A driver revokes its device PFN: any later access that reaches it is O4.</summary>
    public void Revoke(Pfn pfn)
    {
        int f = Index(pfn);
        if (_kind[f] != FrameKind.DevicePfn) throw new EngineBugException($"{pfn} is {_kind[f]}, not a device PFN");
        _kind[f] = FrameKind.RevokedDevicePfn;
    }

    /// <summary>
    /// The 512 entries of a frame that is, or was, a page table. A freed or reused table still returns its last
    /// contents: the oracle decides whether reading it was legitimate.
    /// </summary>
    internal ulong[] Entries(Pfn pfn) =>
        _entries[Index(pfn)] ?? throw new EngineBugException($"{pfn} was never a page table");

    /// <summary>True if the frame ever held a page table (so it has entries to read, stale or not).</summary>
    internal bool HasEntries(Pfn pfn) => _entries[Index(pfn)] is not null;

    private int Index(Pfn pfn)
    {
        if (pfn.Value >= (ulong)_next) throw new ArgumentOutOfRangeException(nameof(pfn), pfn.ToString(), "no such frame");
        return (int)pfn.Value;
    }

    private void Grow()
    {
        int n = _kind.Length * 2;
        Array.Resize(ref _kind, n);
        Array.Resize(ref _generation, n);
        Array.Resize(ref _refs, n);
        Array.Resize(ref _content, n);
        Array.Resize(ref _entries, n);
    }
}
