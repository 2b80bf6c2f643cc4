using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Cpu;
using Pv.Engine.Memory;

namespace Pv.Engine.Tests;

public class PageTableAndTlbTests
{
    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void Populate_builds_every_level_and_a_walk_finds_the_leaf(int levels)
    {
        var t = new TestMachine(levels: levels);
        int before = t.M.Memory.FramesUsed;
        var (page, slot) = t.Map();
        Assert.Equal(levels - 1, t.M.Memory.FramesUsed - before - 1); // tables below the PGD, plus the data page
        Assert.True(t.M.PageTables.TryWalk(t.Mm.Id, TestMachine.Va, out var found, out var leaf));
        Assert.Equal(slot, found);
        Assert.Equal(page, leaf.Pfn);
        Assert.Equal(PageTableLevel.Pte, found.Level);
    }

    [Fact]
    public void A_huge_pmd_leaf_translates_each_4k_subpage()
    {
        var t = new TestMachine();
        var huge = new Pfn(0x200);
        t.M.PageTables.Populate(t.Mm.Id, TestMachine.Va, PageTableEntry.Make(huge, TestMachine.UserRw | PteFlags.Huge), PageTableLevel.Pmd);
        Assert.True(t.M.PageTables.TryWalk(t.Mm.Id, TestMachine.Va + 5 * 4096, out var slot, out var leaf));
        Assert.Equal(PageTableLevel.Pmd, slot.Level);
        Assert.Equal(new Pfn(0x205), PageTables.TargetPfn(leaf, slot.Level, TestMachine.Va + 5 * 4096));
    }

    [Fact]
    public void Tlb_hit_after_fill_and_miss_after_each_kind_of_flush()
    {
        var tlb = new Tlb(64, 4);
        tlb.Fill(1, 0x1000, PageTableLevel.Pte, new Pfn(9), 3, PteFlags.Present | PteFlags.Write);
        Assert.True(tlb.TryLookup(1, 0x1abc, out var hit));
        Assert.Equal(new Pfn(9), hit.Pfn);
        Assert.Equal(3u, hit.Generation);
        Assert.False(tlb.TryLookup(2, 0x1000, out _)); // other ASID
        tlb.FlushPage(1, 0x1000);
        Assert.False(tlb.TryLookup(1, 0x1000, out _));

        tlb.Fill(1, 0x1000, PageTableLevel.Pte, new Pfn(9), 3, PteFlags.Present);
        tlb.FlushAsid(2);
        Assert.True(tlb.TryLookup(1, 0x1000, out _));
        tlb.FlushAsid(1);
        Assert.False(tlb.TryLookup(1, 0x1000, out _));

        tlb.Fill(0, 0xffff_8000_0000_0000, PageTableLevel.Pte, new Pfn(5), 0, PteFlags.Present | PteFlags.Global);
        tlb.Fill(1, 0x1000, PageTableLevel.Pte, new Pfn(9), 3, PteFlags.Present);
        tlb.FlushAllUser();
        Assert.False(tlb.TryLookup(1, 0x1000, out _));
        Assert.True(tlb.TryLookup(0, 0xffff_8000_0000_0000, out _)); // global survives a user flush
        tlb.FlushAll();
        Assert.False(tlb.TryLookup(0, 0xffff_8000_0000_0000, out _));
    }

    [Fact]
    public void Tlb_is_finite_and_evicts()
    {
        var tlb = new Tlb(16, 2);
        for (ulong p = 0; p < 1000; p++) tlb.Fill(1, p << 12, PageTableLevel.Pte, new Pfn(p), 0, PteFlags.Present);
        Assert.True(tlb.LiveEntries().Count() <= tlb.Capacity);
        Assert.True(tlb.TryLookup(1, 999UL << 12, out _)); // the last fill is always present
    }

    [Fact]
    public void Huge_tlb_entry_covers_its_span_and_a_page_flush_inside_drops_it()
    {
        var tlb = new Tlb(64, 4);
        tlb.Fill(1, 0x20_0000, PageTableLevel.Pmd, new Pfn(0x400), 1, PteFlags.Present | PteFlags.Huge);
        Assert.True(tlb.TryLookup(1, 0x20_3000, out var hit));
        Assert.Equal(new Pfn(0x403), hit.Pfn);
        tlb.FlushPage(1, 0x20_5000);
        Assert.False(tlb.TryLookup(1, 0x20_3000, out _));
    }

    [Fact]
    public void Walk_cache_returns_the_deepest_pointer_and_range_flush_drops_it()
    {
        var wc = new WalkCache(4);
        wc.Fill(1, 0x40_0000, PageTableLevel.Pmd, new Pfn(10), 1);
        wc.Fill(1, 0x40_0000, PageTableLevel.Pte, new Pfn(11), 2);
        Assert.True(wc.TryLookup(1, 0x40_1000, out var hit));
        Assert.Equal((new Pfn(11), 2u, PageTableLevel.Pte), (hit.Table, hit.Generation, hit.TableLevel));
        wc.Fill(1, 0x8000_0000, PageTableLevel.Pte, new Pfn(12), 3);
        // Both pointers on the way to 0x40_0000 cover the range (2 MiB and 1 GiB spans); the far one does not.
        wc.FlushRange(1, 0x40_0000, 0x40_1000);
        Assert.False(wc.TryLookup(1, 0x40_1000, out _));
        Assert.True(wc.TryLookup(1, 0x8000_0000, out hit));
        Assert.Equal(new Pfn(12), hit.Table);
    }

    [Fact]
    public void Local_invalidation_with_walk_caches_drops_the_cached_table_pointers()
    {
        var t = new TestMachine();
        var cpu = t.M.Cpus[0];
        cpu.WalkCache.Fill(t.Mm.Id.Value, TestMachine.Va, PageTableLevel.Pte, new Pfn(3), 0);
        cpu.Invalidate(TlbInvalidation.Range(t.Mm.Id, TestMachine.Va, TestMachine.Va + 4096));
        Assert.True(cpu.WalkCache.TryLookup(t.Mm.Id.Value, TestMachine.Va, out _));
        cpu.Invalidate(TlbInvalidation.Range(t.Mm.Id, TestMachine.Va, TestMachine.Va + 4096, walkCaches: true));
        Assert.False(cpu.WalkCache.TryLookup(t.Mm.Id.Value, TestMachine.Va, out _));
        Assert.Equal(2, t.M.Metrics.TlbFlushRange.Value);
        Assert.Equal(2 * t.M.Cost.Model.LocalInvlpg, t.M.Cost.Charged(0));
    }
}
