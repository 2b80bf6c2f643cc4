// Entry point. `-- --memory [--pages N] [--cpus N]` runs the memory-footprint check (MemoryFootprint.cs);
// `-- --ab-smmu [--seeds N] [--rounds N] [--dma N]` the SMMU BTM vs no-BTM A/B (SmmuAb.cs);
// `-- --ab-uml [plugins.json]` the UML 2024 deferred vs pre-2024 eager TLB sync A/B (UmlAb.cs);
// `-- --ab-x86-xen [--seed N] [--rounds N] [--pages N]` x86-native vs xen-pv at 2-64 CPUs (X86XenAb.cs);
// `-- --ab-hyperv [--seed N] [--rounds N] [--pages N]` hyperv vs x86-native and xen-pv at 2, 8, 64 CPUs (HyperVAb.cs);
// `-- --fuzz [--cases N] [--minutes M] [--seed S] [--target T] [--out DIR]` the long mutation fuzz run (FuzzRun.cs);
// `-- --scaling [--schedules N] [--scenario PATH] [--rounds R]` explore's speed-up over --jobs 1..cores (ExploreScaling.cs);
// anything else goes to BenchmarkDotNet's switcher, e.g. `-- --filter '*' --job short`.
namespace Pv.Benchmarks;

public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "--memory") return MemoryFootprint.Run(args[1..]);
        if (args.Length > 0 && args[0] == "--ab-uml") return UmlAb.Run(args[1..]);
        if (args.Length > 0 && args[0] == "--ab-smmu") return SmmuAb.Run(args[1..]);
        if (args.Length > 0 && args[0] == "--ab-x86-xen") return X86XenAb.Run(args[1..]);
        if (args.Length > 0 && args[0] == "--ab-hyperv") return HyperVAb.Run(args[1..]);
        if (args.Length > 0 && args[0] == "--fuzz") return FuzzRun.Run(args[1..]);
        if (args.Length > 0 && args[0] == "--scaling") return ExploreScaling.Run(args[1..]);
        BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
