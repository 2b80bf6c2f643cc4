// `pv plugins`: loads plugins.json, composes every usable backend once into a real machine (the start-up
// check), and shows, per plugin, its version, the contract it was built against, its path, its hash status
// and its backends, then what each loaded plugin's arch profiles accept (option keys and declared cost keys, with
// defaults, units and meanings), then every diagnostic: plugins.json's and the loader's first, then each backend
// that failed to compose, named by plugin and backend. With --json the same facts go out as one JSON document.
// Any diagnostic makes the exit code 2; an empty plugins.json is fine (exit 0).
using System.CommandLine;
using System.Text.Json;
using Pv.Hosting;
using Pv.Hosting.Composition;
using Pv.Hosting.Loading;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Pv.Cli.Commands;

/// <summary>The <c>pv plugins</c> command.</summary>
internal static class PluginsCommand
{
    /// <summary>Creates the command; it writes to the writers of <paramref name="s"/>.</summary>
    public static Command Create(CommandSupport s)
    {
        var (output, error, currentDirectory) = (s.Output, s.Error, s.CurrentDirectory);
        var config = new Option<string>("--config", "-c") { Description = CommandSupport.ConfigDescription };
        var json = new Option<bool>("--json") { Description = "Write the result as JSON instead of a table." };
        var command = new Command("plugins", "List the plugins and backends plugins.json configures, and every problem with them.") { config, json };
        // Guarded like every command: a failure is mapped by PvExitCode.For, never left to the parser's handler (exit 1).
        command.SetAction(parse => s.Guard(() =>
        {
            string? path = parse.GetValue(config) is { } given
                ? Path.GetFullPath(given, currentDirectory)
                : s.Locator.Find();
            if (path is null)
            {
                error.WriteLine($"pv: {s.Locator.NotFound()}");
                return PvExitCode.BadInput;
            }
            using var catalog = PluginCatalog.Load(path);
            var startup = BackendHost.StartupCheck(catalog);
            if (parse.GetValue(json)) WriteJson(catalog, startup, output);
            else WriteTable(catalog, startup, output);
            return catalog.Diagnostics.Count == 0 && startup.Count == 0 ? PvExitCode.Ok : PvExitCode.BadInput;
        }));
        return command;
    }

    /// <summary>True unless the start-up check reported <paramref name="backend"/>.</summary>
    private static bool Composes(ResolvedBackend backend, IReadOnlyList<PvDiagnostic> startup) =>
        !startup.Any(d => d.Backend == backend.Name);

    private static void WriteTable(PluginCatalog catalog, IReadOnlyList<PvDiagnostic> startup, TextWriter output)
    {
        var console = Terminal.Create(output);
        console.WriteLine($"plugins.json: {catalog.ConfigPath}");
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumns("Plugin", "Version", "Contract", "Path", "Hash", "Backends", "Status");
        foreach (var status in catalog.Plugins)
        {
            var plugin = status.Plugin;
            table.AddRow(
                new Text(status.Name),
                new Text(plugin?.Version.ToString() ?? "-"),
                new Text(plugin?.ContractVersion.ToString() ?? "-"),
                new Text(status.Entry.Path),
                HashCell(status.Hash),
                new Text(BackendsCell(catalog, startup, status)),
                status.IsLoaded ? new Markup("[green]loaded[/]") : new Markup("[red]FAILED[/]"));
        }
        console.Write(table);
        if (catalog.Plugins.Count == 0) console.WriteLine("No plugins configured.");
        console.WriteLine($"{catalog.Plugins.Count(p => p.IsLoaded)} of {catalog.Plugins.Count} plugins loaded, {catalog.Backends.Count(b => Composes(b, startup))} backends usable.");
        WriteDeclarations(catalog, console);

        var diagnostics = catalog.Diagnostics.Concat(startup).ToList();
        if (diagnostics.Count == 0) return;
        console.WriteLine();
        console.MarkupLine($"[red]{diagnostics.Count} problem(s):[/]");
        // Plain lines, not Spectre text: a diagnostic is never wrapped, so it can be grepped and its path copied.
        foreach (var diagnostic in diagnostics) output.WriteLine($"  {diagnostic}");
    }

    /// <summary>Each loaded plugin's option keys and declared cost keys per arch profile (engine cost keys: see docs).</summary>
    private static void WriteDeclarations(PluginCatalog catalog, IAnsiConsole console)
    {
        var table = new Table().Border(TableBorder.Rounded).AddColumns("Plugin", "Arch", "Key", "Kind", "Default", "Meaning");
        foreach (var status in catalog.Plugins)
            foreach (var backend in status.Plugin?.Backends ?? [])
            {
                foreach (var option in backend.Options)
                    table.AddRow(Row(status.Name, backend.ArchProfile, option.Key, "option", option.Default, option.Description));
                foreach (var cost in backend.Costs)
                    table.AddRow(Row(status.Name, backend.ArchProfile, cost.Key, "cost", $"{cost.Default} {cost.Unit}", cost.Description));
            }
        if (table.Rows.Count == 0) return;
        console.WriteLine();
        console.WriteLine($"Options and declared costs (every backend also takes the engine's cost keys: {string.Join(", ", BackendCosts.EngineKeys)}):");
        console.Write(table);

        // Plain text cells: a description is never read as Spectre markup.
        static IRenderable[] Row(params string[] cells) => [.. cells.Select(c => new Text(c))];
    }

    private static IRenderable HashCell(PluginHashStatus hash) => hash switch
    {
        PluginHashStatus.PinnedOk => new Markup("[green]pinned ok[/]"),
        PluginHashStatus.Unpinned => new Text("unpinned"),
        PluginHashStatus.Mismatch => new Markup("[red]MISMATCH[/]"),
        _ => new Text("-"),
    };

    /// <summary>
    /// The configured backends of the plugin as <c>name (archProfile)</c>, with <c>FAILED</c> after one that did not
    /// compose; else the arch profiles it offers.
    /// </summary>
    private static string BackendsCell(PluginCatalog catalog, IReadOnlyList<PvDiagnostic> startup, PluginStatus status)
    {
        var configured = catalog.Backends.Where(b => b.Entry.Plugin == status.Name)
            .Select(b => $"{b.Name} ({b.ArchProfile}){(Composes(b, startup) ? "" : " FAILED")}").ToList();
        if (configured.Count > 0) return string.Join("\n", configured);
        return status.Plugin is { } plugin ? "offers: " + string.Join(", ", plugin.Backends.Select(b => b.ArchProfile)) : "-";
    }

    private static void WriteJson(PluginCatalog catalog, IReadOnlyList<PvDiagnostic> startup, TextWriter output)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("config", catalog.ConfigPath);
            w.WriteStartArray("plugins");
            foreach (var status in catalog.Plugins)
            {
                w.WriteStartObject();
                w.WriteString("name", status.Name);
                w.WriteString("path", status.Entry.Path);
                w.WriteString("fullPath", status.Entry.FullPath);
                w.WriteString("status", status.IsLoaded ? "loaded" : "failed");
                w.WriteString("version", status.Plugin?.Version.ToString());
                w.WriteString("contractVersion", status.Plugin?.ContractVersion.ToString());
                w.WriteString("hash", HashName(status.Hash));
                w.WriteString("sha256", status.Sha256);
                w.WriteString("error", status.Error);
                w.WriteStartArray("offers");
                foreach (var backend in status.Plugin?.Backends ?? []) w.WriteStringValue(backend.ArchProfile);
                w.WriteEndArray();
                w.WriteStartArray("declarations");
                foreach (var backend in status.Plugin?.Backends ?? [])
                {
                    w.WriteStartObject();
                    w.WriteString("archProfile", backend.ArchProfile);
                    w.WriteStartArray("options");
                    foreach (var option in backend.Options)
                    {
                        w.WriteStartObject();
                        w.WriteString("key", option.Key);
                        w.WriteString("default", option.Default);
                        w.WriteString("description", option.Description);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteStartArray("costs");
                    foreach (var cost in backend.Costs)
                    {
                        w.WriteStartObject();
                        w.WriteString("key", cost.Key);
                        w.WriteNumber("default", cost.Default);
                        w.WriteString("unit", cost.Unit);
                        w.WriteString("description", cost.Description);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("backends");
            foreach (var backend in catalog.Backends)
            {
                w.WriteStartObject();
                w.WriteString("name", backend.Name);
                w.WriteString("plugin", backend.Entry.Plugin);
                w.WriteString("archProfile", backend.ArchProfile);
                w.WriteString("description", backend.Description);
                w.WriteString("status", Composes(backend, startup) ? "ok" : "failed");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("diagnostics");
            foreach (var d in catalog.Diagnostics.Concat(startup))
            {
                w.WriteStartObject();
                w.WriteString("message", d.Message);
                w.WriteString("file", d.Location?.File);
                w.WriteString("jsonPath", d.Location?.JsonPath);
                if (d.Location is { Line: > 0 } at)
                {
                    w.WriteNumber("line", at.Line);
                    w.WriteNumber("column", at.Column);
                }
                w.WriteString("plugin", d.Plugin);
                w.WriteString("backend", d.Backend);
                w.WriteString("text", d.ToString());
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        output.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static string HashName(PluginHashStatus hash) => hash switch
    {
        PluginHashStatus.PinnedOk => "pinned-ok",
        PluginHashStatus.Unpinned => "unpinned",
        PluginHashStatus.Mismatch => "mismatch",
        _ => "not-computed",
    };
}
