// Page-table entry encoding: a PFN in bits 12..51 and flags elsewhere survive a round trip, and With /
// Without touch only the flags asked for. Page geometry: shifts, spans and indices per level.
using Pv.Abstractions.Memory;

namespace Pv.Abstractions.Tests;

public sealed class PageTableEntryTests
{
    [Theory]
    [InlineData(0UL)]
    [InlineData(1UL)]
    [InlineData(0x12345UL)]
    [InlineData((1UL << 40) - 1)]
    public void Make_round_trips_pfn_and_flags(ulong pfn)
    {
        const PteFlags flags = PteFlags.Present | PteFlags.Write | PteFlags.User | PteFlags.Dirty | PteFlags.Exec | PteFlags.Software0 | PteFlags.GuardMarker;
        var entry = PageTableEntry.Make(new Pfn(pfn), flags);
        Assert.Equal(new Pfn(pfn), entry.Pfn);
        Assert.Equal(flags, entry.Flags);
        Assert.True(entry.IsPresent && entry.IsWritable && !entry.IsHuge);
        Assert.True(entry.Has(PteFlags.Present | PteFlags.Software0));
        Assert.False(entry.Has(PteFlags.Present | PteFlags.Accessed));
    }

    [Fact]
    public void Pfn_beyond_40_bits_does_not_spill_into_flags()
    {
        var entry = PageTableEntry.Make(new Pfn(1UL << 40), PteFlags.Present);
        Assert.Equal(new Pfn(0), entry.Pfn);
        Assert.Equal(PteFlags.Present, entry.Flags);
    }

    [Fact]
    public void With_and_Without_change_only_the_given_flags()
    {
        var entry = PageTableEntry.Make(new Pfn(0x42), PteFlags.Present | PteFlags.Write);
        var huge = entry.With(PteFlags.Huge | PteFlags.Accessed);
        Assert.Equal((new Pfn(0x42), PteFlags.Present | PteFlags.Write | PteFlags.Huge | PteFlags.Accessed), (huge.Pfn, huge.Flags));
        Assert.True(huge.IsHuge);
        var readOnly = huge.Without(PteFlags.Write);
        Assert.Equal((new Pfn(0x42), PteFlags.Present | PteFlags.Huge | PteFlags.Accessed), (readOnly.Pfn, readOnly.Flags));
        Assert.False(readOnly.IsWritable);
        Assert.Equal(entry, entry.Without(PteFlags.Dirty));
    }

    [Fact]
    public void Empty_entry_is_none_and_not_present()
    {
        Assert.True(PageTableEntry.Empty.IsNone);
        Assert.False(PageTableEntry.Empty.IsPresent);
        Assert.Equal("none", PageTableEntry.Empty.ToString());
        var guard = PageTableEntry.Empty.With(PteFlags.GuardMarker);
        Assert.False(guard.IsNone);
        Assert.False(guard.IsPresent);
    }

    [Fact]
    public void Pfn_none_is_invalid()
    {
        Assert.False(Pfn.None.IsValid);
        Assert.True(new Pfn(0).IsValid);
        Assert.Equal("pfn none", Pfn.None.ToString());
        Assert.Equal("pfn 1f", new Pfn(0x1f).ToString());
    }

    [Theory]
    [InlineData(PageTableLevel.Pte, 12, 0x1000UL)]
    [InlineData(PageTableLevel.Pmd, 21, 0x20_0000UL)]
    [InlineData(PageTableLevel.Pud, 30, 0x4000_0000UL)]
    [InlineData(PageTableLevel.P4d, 39, 0x80_0000_0000UL)]
    [InlineData(PageTableLevel.Pgd, 48, 0x1_0000_0000_0000UL)]
    public void Geometry_per_level(PageTableLevel level, int shift, ulong span)
    {
        Assert.Equal(shift, PageGeometry.Shift(level));
        Assert.Equal(span, PageGeometry.Span(level));
        Assert.Equal(0, PageGeometry.Index(span - 1, level));
        Assert.Equal(1, PageGeometry.Index(span, level));
        Assert.Equal(511, PageGeometry.Index(span * 511, level));
        Assert.Equal(0, PageGeometry.Index(span * 512, level));
    }

    [Fact]
    public void Geometry_constants()
    {
        Assert.Equal(4096UL, PageGeometry.PageSize);
        Assert.Equal(512, PageGeometry.EntriesPerTable);
        const ulong address = 0x7fff_1234_5678;
        Assert.Equal((int)((address >> 12) & 511), PageGeometry.Index(address, PageTableLevel.Pte));
        Assert.Equal((int)((address >> 39) & 511), PageGeometry.Index(address, PageTableLevel.P4d));
    }
}
