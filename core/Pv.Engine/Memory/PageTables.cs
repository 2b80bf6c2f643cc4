// Page tables in frames: 4 or 5 levels of 512 entries, huge leaves at PMD and PUD. Shift levels are named
// by PageTableLevel; with 4-level paging the top table sits at the P4D shift (the PGD folds onto it, as in
// the kernel's 4-level configuration). Reads through IPageTables are checked by the oracle: reading a table
// frame that is no longer a page table is O2 whoever does it. Every write that takes a translation away
// (a leaf cleared, downgraded or pointed elsewhere; a table pointer unhooked or moved) is told to the oracle
// with the mm and virtual range it covered, found through a reverse map from each table frame to the mm and
// address it was linked at (as the kernel's ptdesc knows its mm and index), so O3 can tell which operation
// made a cached translation stale. Setup helpers (Populate) build tables outside any step, for tests and
// scenario start-up.
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Sched;

namespace Pv.Engine.Memory;

/// <summary>The machine's page tables.</summary>
internal sealed class PageTables : IPageTables
{
    private readonly Machine _machine;

    // Table frame (by frame number) -> (mm + 1, first virtual address it maps), set when a pointer to the table is
    // written; 0 means unknown. An array, not a dictionary: every page-table write looks its table up.
    private (int MmPlusOne, ulong Base)[] _rmap = new (int, ulong)[64];

    internal PageTables(Machine machine, int levels)
    {
        if (levels is not (4 or 5)) throw new ArgumentOutOfRangeException(nameof(levels), levels, "paging levels must be 4 or 5");
        _machine = machine;
        Levels = levels;
        TopLevel = levels == 5 ? PageTableLevel.Pgd : PageTableLevel.P4d;
    }

    /// <summary>Back to new tables: no table linked anywhere (the reverse map keeps its size for the next run).</summary>
    internal void Reset() => Array.Clear(_rmap);

    /// <inheritdoc/>
    public int Levels { get; }

    /// <summary>The shift level of the top table.</summary>
    public PageTableLevel TopLevel { get; }

    /// <inheritdoc/>
    public Pfn Pgd(MmId mm) => _machine.Mm(mm).Pgd;

    /// <inheritdoc/>
    public PageTableEntry Read(PteSlot slot)
    {
        var kind = _machine.Memory.KindOf(slot.Table);
        if (kind != FrameKind.PageTable)
            _machine.Oracle.Report(new Oracle.Violation(Oracle.InvariantId.O2, $"software read of {slot.Table}, which is {kind}", _machine.CurrentAgent, MmId.InitMm, 0, slot.Table, 0, _machine.Memory.GenerationOf(slot.Table), _machine.Step));
        return new PageTableEntry(_machine.Memory.Entries(slot.Table)[slot.Index]);
    }

    /// <inheritdoc/>
    public void Write(PteSlot slot, PageTableEntry entry)
    {
        var kind = _machine.Memory.KindOf(slot.Table);
        if (kind != FrameKind.PageTable) throw new EngineBugException($"write to {slot.Table}, which is {kind}, not a page table");
        var entries = _machine.Memory.Entries(slot.Table);
        var old = new PageTableEntry(entries[slot.Index]);
        entries[slot.Index] = entry.Raw;
        var owner = slot.Table.Value < (ulong)_rmap.Length ? _rmap[slot.Table.Value] : default;
        ulong va = owner.MmPlusOne > 0 ? Canonical(owner.Base + (ulong)slot.Index * PageGeometry.Span(slot.Level)) : TraceEvents.NoAddress;
        // The address is for the trace's reader (set_pte addr=...); the hash takes the slot and the entry, as always.
        _machine.Trace(TraceEvents.SetEntry[(int)slot.Level], ((ulong)slot.Table.Value << 12) | (uint)slot.Index, entry.Raw, va);
        if (old.Raw == entry.Raw || owner.MmPlusOne == 0) return;
        bool leaf = slot.Level == PageTableLevel.Pte || old.IsHuge;
        bool linksTable = !leaf && entry.IsPresent && !entry.IsHuge;
        bool takesAway = old.IsPresent && TakesAway(old, entry, leaf);
        if (!linksTable && !takesAway) return; // a new leaf over an empty slot, the common case: nothing to note
        var mm = new MmId(owner.MmPlusOne - 1);
        if (linksTable) SetOwner(entry.Pfn, mm, va);
        if (takesAway) _machine.Oracle.TranslationChanged(mm, va, PageGeometry.Span(slot.Level));
    }

    /// <summary>
    /// Does writing <paramref name="now"/> over the present <paramref name="old"/> take a translation away: a leaf cleared,
    /// pointed at another frame or stripped of write or exec; a table pointer unhooked or replaced.
    /// </summary>
    private static bool TakesAway(PageTableEntry old, PageTableEntry now, bool leaf)
    {
        if (!now.IsPresent || now.Pfn != old.Pfn || now.IsHuge != old.IsHuge) return true;
        if (!leaf) return false;
        return (old.IsWritable && !now.IsWritable) || (old.Has(PteFlags.Exec) && !now.Has(PteFlags.Exec));
    }

    /// <summary>Sign-extend an address built from table indices to its canonical form (the kernel half).</summary>
    private ulong Canonical(ulong va)
    {
        int bits = Levels == 5 ? 57 : 48;
        return (va & (1UL << (bits - 1))) != 0 ? va | ~((1UL << bits) - 1) : va;
    }

    /// <summary>Record that <paramref name="pgd"/> is the top table of <paramref name="mm"/> (mm creation).</summary>
    internal void AddPgd(MmId mm, Pfn pgd) => SetOwner(pgd, mm, 0);

    private void SetOwner(Pfn table, MmId mm, ulong baseVa)
    {
        if (table.Value >= (ulong)_rmap.Length) Array.Resize(ref _rmap, Math.Max(_rmap.Length * 2, (int)table.Value + 1));
        _rmap[table.Value] = (mm.Value + 1, baseVa);
    }

    /// <summary>The slot for <paramref name="address"/> in <paramref name="table"/> at <paramref name="level"/>.</summary>
    public static PteSlot SlotOf(Pfn table, ulong address, PageTableLevel level) => new(table, PageGeometry.Index(address, level), level);

    /// <inheritdoc/>
    public bool TryWalk(MmId mm, ulong address, out PteSlot slot, out PageTableEntry entry)
    {
        var table = Pgd(mm);
        for (var level = TopLevel; ; level--)
        {
            slot = SlotOf(table, address, level);
            entry = Read(slot);
            if (!entry.IsPresent) return false;
            if (level == PageTableLevel.Pte || entry.IsHuge) return true;
            table = entry.Pfn;
        }
    }

    /// <summary>A walk the oracle does not watch (the oracle's own look at the current page table).</summary>
    internal bool TryWalkQuiet(MmId mm, ulong address, out PteSlot slot, out PageTableEntry entry)
    {
        var mem = _machine.Memory;
        var table = _machine.Mm(mm).Pgd;
        for (var level = TopLevel; ; level--)
        {
            slot = SlotOf(table, address, level);
            entry = mem.KindOf(table) == FrameKind.PageTable ? new PageTableEntry(mem.Entries(table)[slot.Index]) : default;
            if (!entry.IsPresent) return false;
            if (level == PageTableLevel.Pte || entry.IsHuge) return true;
            table = entry.Pfn;
        }
    }

    /// <summary>The 4 KiB frame a present leaf maps at <paramref name="address"/> (inside a huge leaf, the right sub-page).</summary>
    public static Pfn TargetPfn(PageTableEntry leaf, PageTableLevel level, ulong address) =>
        new(leaf.Pfn.Value + ((address >> PageGeometry.PageShift) & ((1UL << (9 * (int)level)) - 1)));

    /// <summary>
    /// Setup helper, outside any step: make the entry for <paramref name="address"/> at <paramref name="level"/>
    /// exist, allocating missing tables, and write <paramref name="leaf"/> there.
    /// </summary>
    public PteSlot Populate(MmId mm, ulong address, PageTableEntry leaf, PageTableLevel level = PageTableLevel.Pte)
    {
        var slot = EnsureTable(mm, address, level);
        Write(slot, leaf);
        return slot;
    }

    /// <summary>Setup helper: the slot at <paramref name="level"/> for <paramref name="address"/>, allocating missing tables.</summary>
    public PteSlot EnsureTable(MmId mm, ulong address, PageTableLevel level)
    {
        var table = Pgd(mm);
        for (var l = TopLevel; l > level; l--)
        {
            var slot = SlotOf(table, address, l);
            var e = Read(slot);
            if (!e.IsPresent)
            {
                var t = _machine.Memory.Alloc(AllocSite.PageTable, FrameKind.PageTable);
                if (!t.IsValid) throw new ProgramException("out of memory allocating a page table where the kernel would fail the operation with -ENOMEM (not modelled; use fail-alloc page-table where a table allocation may fail)");
                e = PageTableEntry.Make(t, PteFlags.Present | PteFlags.Write | PteFlags.User | PteFlags.Accessed);
                Write(slot, e);
            }
            else if (e.IsHuge) throw new ProgramException($"{address:x} is inside a huge mapping at {l} (Pv does not split huge mappings)");
            table = e.Pfn;
        }
        return SlotOf(table, address, level);
    }
}
