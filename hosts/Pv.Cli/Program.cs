Console.WriteLine("pv");
