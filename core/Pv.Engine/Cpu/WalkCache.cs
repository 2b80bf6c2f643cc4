// The paging-structure cache (x86 PDE/PDPTE/PML4E caches, arm64 walk cache): pointers to lower-level
// tables kept across walks. A walk can start from the deepest cached pointer without reading the upper
// levels, which is how a CPU can reach a page-table page the kernel already unlinked. Each entry keeps
// the table frame's generation at fill time so the oracle sees a hit on a freed or reused table (O2).
// Entries are found by a vectorised search over one key word per entry (ASID and span), so a miss costs a
// few nanoseconds even with many entries.
using Pv.Abstractions.Memory;

namespace Pv.Engine.Cpu;

/// <summary>A cached pointer to a table at <paramref name="TableLevel"/> covering one span.</summary>
/// <param name="Table">The cached table frame.</param>
/// <param name="Generation">Its generation when cached.</param>
/// <param name="TableLevel">The level of the table pointed to (Pte: the pointer came from a PMD entry).</param>
internal readonly record struct WalkCacheHit(Pfn Table, uint Generation, PageTableLevel TableLevel);

/// <summary>One CPU's paging-structure cache, a small fully associative array per level.</summary>
internal sealed class WalkCache
{
    private readonly ulong[][] _keys;      // per table level 0 (PTE tables) .. 2 (PUD tables); 0 = empty
    private readonly ulong[][] _tables;
    private readonly uint[][] _generations;
    private readonly int[] _victim = new int[3];

    /// <summary>A cache of <paramref name="entriesPerLevel"/> pointers for each of PTE, PMD and PUD tables.</summary>
    public WalkCache(int entriesPerLevel)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(entriesPerLevel);
        _keys = [new ulong[entriesPerLevel], new ulong[entriesPerLevel], new ulong[entriesPerLevel]];
        _tables = [new ulong[entriesPerLevel], new ulong[entriesPerLevel], new ulong[entriesPerLevel]];
        _generations = [new uint[entriesPerLevel], new uint[entriesPerLevel], new uint[entriesPerLevel]];
    }

    private static ulong Key(int asid, ulong span) => (((ulong)(uint)asid << 40) | span) + 1;

    private static int AsidOf(ulong key) => (int)((key - 1) >> 40);

    private static ulong SpanOf(ulong key) => (key - 1) & ((1UL << 40) - 1);

    /// <summary>The deepest cached table on the way to <paramref name="address"/>, if any.</summary>
    public bool TryLookup(int asid, ulong address, out WalkCacheHit hit)
    {
        for (int level = 0; level < 3; level++)
        {
            int i = Array.IndexOf(_keys[level], Key(asid, address >> PageGeometry.Shift((PageTableLevel)(level + 1))));
            if (i >= 0)
            {
                hit = new WalkCacheHit(new Pfn(_tables[level][i]), _generations[level][i], (PageTableLevel)level);
                return true;
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
        var keys = _keys[level];
        if (keys.Length == 0) return;
        ulong key = Key(asid, address >> PageGeometry.Shift(tableLevel + 1));
        int slot = Array.IndexOf(keys, key);
        if (slot < 0) slot = Array.IndexOf(keys, 0UL);
        if (slot < 0)
        {
            slot = _victim[level];
            _victim[level] = (slot + 1) % keys.Length;
        }
        keys[slot] = key;
        _tables[level][slot] = table.Value;
        _generations[level][slot] = generation;
    }

    /// <summary>Drop cached pointers of <paramref name="asid"/> whose span meets [start, end).</summary>
    public void FlushRange(int asid, ulong start, ulong end)
    {
        for (int level = 0; level < 3; level++)
        {
            int shift = PageGeometry.Shift((PageTableLevel)(level + 1));
            var keys = _keys[level];
            for (int i = 0; i < keys.Length; i++)
            {
                ulong k = keys[i];
                if (k == 0 || AsidOf(k) != asid) continue;
                ulong lo = SpanOf(k) << shift, hi = lo + (1UL << shift);
                if (lo < end && start < hi) keys[i] = 0;
            }
        }
    }

    /// <summary>Drop every cached pointer of <paramref name="asid"/>.</summary>
    public void FlushAsid(int asid)
    {
        foreach (var keys in _keys)
            for (int i = 0; i < keys.Length; i++)
                if (keys[i] != 0 && AsidOf(keys[i]) == asid) keys[i] = 0;
    }

    /// <summary>Drop everything.</summary>
    public void FlushAll()
    {
        foreach (var keys in _keys) Array.Clear(keys);
    }

    /// <summary>As new: empty, and replacement starting again at the first entry of each level.</summary>
    public void Reset()
    {
        FlushAll();
        Array.Clear(_victim);
    }
}
