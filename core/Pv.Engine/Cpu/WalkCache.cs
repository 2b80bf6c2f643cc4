// The paging-structure cache (x86 PDE/PDPTE/PML4E caches, arm64 walk cache): pointers to lower-level
// tables kept across walks. A walk can start from the deepest cached pointer without reading the upper
// levels, which is how a CPU can reach a page-table page the kernel already unlinked. Each entry keeps
// the table frame's generation at fill time so the oracle sees a hit on a freed or reused table (O2).
using Pv.Abstractions.Memory;

namespace Pv.Engine.Cpu;

/// <summary>A cached pointer to a table at <paramref name="TableLevel"/> covering one span.</summary>
/// <param name="Table">The cached table frame.</param>
/// <param name="Generation">Its generation when cached.</param>
/// <param name="TableLevel">The level of the table pointed to (Pte: the pointer came from a PMD entry).</param>
public readonly record struct WalkCacheHit(Pfn Table, uint Generation, PageTableLevel TableLevel);

/// <summary>One CPU's paging-structure cache, a small fully associative array per level.</summary>
public sealed class WalkCache
{
    private struct Entry
    {
        public bool Valid;
        public int Asid;
        public ulong Span;       // address >> Shift(TableLevel + 1)
        public ulong Table;
        public uint Generation;
    }

    private readonly Entry[][] _levels; // index: table level 0 (PTE tables) .. 2 (PUD tables)
    private readonly int[] _victim = new int[3];

    /// <summary>A cache of <paramref name="entriesPerLevel"/> pointers for each of PTE, PMD and PUD tables.</summary>
    public WalkCache(int entriesPerLevel)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(entriesPerLevel);
        _levels = [new Entry[entriesPerLevel], new Entry[entriesPerLevel], new Entry[entriesPerLevel]];
    }

    /// <summary>The deepest cached table on the way to <paramref name="address"/>, if any.</summary>
    public bool TryLookup(int asid, ulong address, out WalkCacheHit hit)
    {
        for (int level = 0; level < 3; level++)
        {
            ulong span = address >> PageGeometry.Shift((PageTableLevel)(level + 1));
            foreach (ref Entry e in _levels[level].AsSpan())
            {
                if (e.Valid && e.Asid == asid && e.Span == span)
                {
                    hit = new WalkCacheHit(new Pfn(e.Table), e.Generation, (PageTableLevel)level);
                    return true;
                }
            }
        }
        hit = default;
        return false;
    }

    /// <summary>Cache the pointer to <paramref name="table"/> (a table at <paramref name="tableLevel"/>) for <paramref name="address"/>.</summary>
    public void Fill(int asid, ulong address, PageTableLevel tableLevel, Pfn table, uint generation)
    {
        int level = (int)tableLevel;
        if (level > 2) return;
        var arr = _levels[level];
        if (arr.Length == 0) return;
        ulong span = address >> PageGeometry.Shift(tableLevel + 1);
        int slot = -1;
        for (int i = 0; i < arr.Length; i++)
        {
            if (arr[i].Valid && arr[i].Asid == asid && arr[i].Span == span) { slot = i; break; }
            if (slot < 0 && !arr[i].Valid) slot = i;
        }
        if (slot < 0)
        {
            slot = _victim[level];
            _victim[level] = (slot + 1) % arr.Length;
        }
        arr[slot] = new Entry { Valid = true, Asid = asid, Span = span, Table = table.Value, Generation = generation };
    }

    /// <summary>Drop cached pointers of <paramref name="asid"/> whose span meets [start, end).</summary>
    public void FlushRange(int asid, ulong start, ulong end)
    {
        for (int level = 0; level < 3; level++)
        {
            int shift = PageGeometry.Shift((PageTableLevel)(level + 1));
            foreach (ref Entry e in _levels[level].AsSpan())
            {
                if (!e.Valid || e.Asid != asid) continue;
                ulong lo = e.Span << shift, hi = lo + (1UL << shift);
                if (lo < end && start < hi) e.Valid = false;
            }
        }
    }

    /// <summary>Drop every cached pointer of <paramref name="asid"/>.</summary>
    public void FlushAsid(int asid)
    {
        foreach (var arr in _levels)
            foreach (ref Entry e in arr.AsSpan())
                if (e.Asid == asid) e.Valid = false;
    }

    /// <summary>Drop everything.</summary>
    public void FlushAll()
    {
        foreach (var arr in _levels) Array.Clear(arr);
    }
}
