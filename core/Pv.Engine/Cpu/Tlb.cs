// A CPU's TLB: finite and set-associative, keyed by ASID (the mm id) and virtual page at the leaf's level
// (4 KiB, 2 MiB, 1 GiB). Each entry remembers the frame and the frame's generation at fill time, so the
// oracle can tell whether a hit reaches the frame the translation was made for, and the step it was filled at,
// so O3 can tell whether it predates the change that made it stale. Whole-ASID and whole-TLB
// flushes bump an epoch instead of touching every entry, so they cost O(1); lookups compare epochs. The
// hit path allocates nothing.
using System.Runtime.CompilerServices;
using Pv.Abstractions.Memory;

namespace Pv.Engine.Cpu;

/// <summary>A cached translation.</summary>
/// <param name="Pfn">The frame of the page containing the address (for huge leaves, of the 4 KiB page inside).</param>
/// <param name="Generation">The frame's generation when the translation was filled.</param>
/// <param name="Flags">The leaf's flags (permissions).</param>
/// <param name="Level">The leaf's level.</param>
/// <param name="FilledAt">The machine step the translation was filled at (-1: before the run).</param>
internal readonly record struct TlbHit(Pfn Pfn, uint Generation, PteFlags Flags, PageTableLevel Level, long FilledAt);

/// <summary>One CPU's TLB.</summary>
internal sealed class Tlb
{
    private struct Entry
    {
        public ulong Tag;          // (vpn at level << 2) | level, +1 so that 0 means empty
        public int Asid;
        public uint AsidEpoch;
        public uint UserEpoch;
        public ulong LeafPfn;      // frame of the leaf's first 4 KiB page
        public uint Generation;    // generation of the frame the leaf maps, at fill time
        public PteFlags Flags;
        public long FilledAt;
    }

    // Allocated on the first fill: a machine built per explored schedule often leaves most CPUs' TLBs untouched.
    private Entry[] _entries = [];
    private readonly int _capacity;
    private readonly int _ways;
    private readonly int _setMask;
    private readonly byte[] _victim;
    private uint[] _asidEpoch = new uint[16];
    private uint _userEpoch;

    /// <summary>A TLB of about <paramref name="entries"/> entries in sets of <paramref name="ways"/>.</summary>
    public Tlb(int entries, int ways)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(entries, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ways, 1);
        int sets = 1;
        while (sets * ways < entries) sets <<= 1;
        _ways = ways;
        _setMask = sets - 1;
        _capacity = sets * ways;
        _victim = new byte[sets];
    }

    /// <summary>
    /// As new: no entry, every epoch and replacement pointer at 0. The entry array, once allocated, is kept (cleared): an
    /// empty entry misses exactly as the absent array does.
    /// </summary>
    public void Reset()
    {
        Array.Clear(_entries);
        Array.Clear(_victim);
        Array.Clear(_asidEpoch);
        _userEpoch = 0;
    }

    /// <summary>Capacity in entries.</summary>
    public int Capacity => _capacity;

    /// <summary>Look up <paramref name="address"/> in <paramref name="asid"/>: 4 KiB, then 2 MiB, then 1 GiB leaves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryLookup(int asid, ulong address, out TlbHit hit)
    {
        if (_entries.Length == 0)
        {
            hit = default;
            return false;
        }
        uint asidEpoch = AsidEpoch(asid);
        for (int level = 0; level < 3; level++)
        {
            int shift = PageGeometry.PageShift + 9 * level;
            ulong tag = (((address >> shift) << 2) | (uint)level) + 1;
            int set = SetOf(asid, tag);
            int baseIdx = set * _ways;
            for (int w = 0; w < _ways; w++)
            {
                ref Entry e = ref _entries[baseIdx + w];
                if (e.Tag != tag || e.Asid != asid || e.AsidEpoch != asidEpoch) continue;
                if ((e.Flags & PteFlags.Global) == 0 && e.UserEpoch != _userEpoch) continue;
                ulong offsetPages = (address >> PageGeometry.PageShift) & ((1UL << (9 * level)) - 1);
                hit = new TlbHit(new Pfn(e.LeafPfn + offsetPages), e.Generation, e.Flags, (PageTableLevel)level, e.FilledAt);
                return true;
            }
        }
        hit = default;
        return false;
    }

    /// <summary>Cache the leaf at <paramref name="level"/> mapping <paramref name="address"/>, filled at step <paramref name="filledAt"/>.</summary>
    public void Fill(int asid, ulong address, PageTableLevel level, Pfn leafPfn, uint generation, PteFlags flags, long filledAt = -1)
    {
        if (_entries.Length == 0) _entries = new Entry[_capacity];
        int shift = PageGeometry.Shift(level);
        ulong tag = (((address >> shift) << 2) | (uint)level) + 1;
        int set = SetOf(asid, tag);
        int baseIdx = set * _ways;
        uint asidEpoch = AsidEpoch(asid);
        int slot = -1;
        for (int w = 0; w < _ways; w++)
        {
            ref Entry e = ref _entries[baseIdx + w];
            if (e.Tag == tag && e.Asid == asid) { slot = w; break; }
            if (slot < 0 && !IsLive(e)) slot = w;
        }
        if (slot < 0)
        {
            slot = _victim[set];
            _victim[set] = (byte)((slot + 1) % _ways);
        }
        _entries[baseIdx + slot] = new Entry
        {
            Tag = tag, Asid = asid, AsidEpoch = asidEpoch, UserEpoch = _userEpoch,
            LeafPfn = leafPfn.Value, Generation = generation, Flags = flags, FilledAt = filledAt,
        };
    }

    /// <summary>Drop the translation of one page (any leaf level covering it).</summary>
    public void FlushPage(int asid, ulong address)
    {
        if (_entries.Length == 0) return;
        for (int level = 0; level < 3; level++)
        {
            int shift = PageGeometry.PageShift + 9 * level;
            ulong tag = (((address >> shift) << 2) | (uint)level) + 1;
            int baseIdx = SetOf(asid, tag) * _ways;
            for (int w = 0; w < _ways; w++)
            {
                ref Entry e = ref _entries[baseIdx + w];
                if (e.Tag == tag && e.Asid == asid) e.Tag = 0;
            }
        }
    }

    /// <summary>Drop everything tagged <paramref name="asid"/> (global entries of init_mm included).</summary>
    public void FlushAsid(int asid)
    {
        EnsureAsid(asid);
        _asidEpoch[asid]++;
    }

    /// <summary>Drop every non-global entry.</summary>
    public void FlushAllUser() => _userEpoch++;

    /// <summary>Drop everything.</summary>
    public void FlushAll()
    {
        _userEpoch++;
        for (int i = 0; i < _asidEpoch.Length; i++) _asidEpoch[i]++;
    }

    /// <summary>Live entries (for tests and the strict O3 scan).</summary>
    public IEnumerable<(int Asid, ulong Address, TlbHit Hit)> LiveEntries()
    {
        foreach (var e in _entries)
        {
            if (!IsLive(e)) continue;
            int level = (int)((e.Tag - 1) & 3);
            ulong address = ((e.Tag - 1) >> 2) << PageGeometry.Shift((PageTableLevel)level);
            yield return (e.Asid, address, new TlbHit(new Pfn(e.LeafPfn), e.Generation, e.Flags, (PageTableLevel)level, e.FilledAt));
        }
    }

    private bool IsLive(in Entry e) =>
        e.Tag != 0 && e.AsidEpoch == AsidEpoch(e.Asid) && ((e.Flags & PteFlags.Global) != 0 || e.UserEpoch == _userEpoch);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private uint AsidEpoch(int asid) => (uint)asid < (uint)_asidEpoch.Length ? _asidEpoch[asid] : 0;

    private void EnsureAsid(int asid)
    {
        if (asid >= _asidEpoch.Length) Array.Resize(ref _asidEpoch, Math.Max(asid + 1, _asidEpoch.Length * 2));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int SetOf(int asid, ulong tag)
    {
        ulong h = (tag ^ ((ulong)(uint)asid << 40)) * 0x9E3779B97F4A7C15UL;
        return (int)(h >> 40) & _setMask;
    }
}
