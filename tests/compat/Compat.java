// Transaction-pooling compatibility workload for pgJDBC with prepareThreshold=1: every
// PreparedStatement becomes a named server-side statement on its first use. Reads PGHOST,
// PGPORT, PGUSER, PGPASSWORD and PGDATABASE. Runs COMPAT_WORKERS threads of COMPAT_ITERATIONS
// rounds each (see README.md) and prints `compat jdbc: ops=N failed=F` last. Exits 0 only when
// F is 0.

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;

public final class Compat {
  private static final String DRIVER = "jdbc";
  private static final AtomicInteger OPS = new AtomicInteger();
  private static final AtomicInteger FAILED = new AtomicInteger();
  private static final List<String> PROBLEMS = Collections.synchronizedList(new ArrayList<>());

  private static void check(boolean ok, String what) {
    OPS.incrementAndGet();
    if (!ok) {
      FAILED.incrementAndGet();
      PROBLEMS.add(what);
    }
  }

  private static String env(String name, String fallback) {
    String v = System.getenv(name);
    return v == null || v.isEmpty() ? fallback : v;
  }

  private static long single(PreparedStatement ps) throws SQLException {
    try (ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }

  // COMPAT_ITERATIONS rounds, or as many as fit in COMPAT_SECONDS when that is set.
  private static void worker(int w, int iterations, double seconds) {
    String url = "jdbc:postgresql://" + env("PGHOST", "127.0.0.1") + ":" + env("PGPORT", "5432")
        + "/" + env("PGDATABASE", "postgres") + "?prepareThreshold=1";
    Properties props = new Properties();
    props.setProperty("user", env("PGUSER", "postgres"));
    props.setProperty("password", env("PGPASSWORD", ""));
    try (Connection c = DriverManager.getConnection(url, props)) {
      c.setAutoCommit(true);
      PreparedStatement dbl = c.prepareStatement("SELECT ?::int * 2");
      PreparedStatement ins =
          c.prepareStatement("INSERT INTO compat_rows (driver, worker, i) VALUES (?, ?, ?)");
      PreparedStatement cnt =
          c.prepareStatement("SELECT count(*) FROM compat_rows WHERE driver = ? AND worker = ?");
      PreparedStatement div = c.prepareStatement("SELECT 1 / ?::int");
      long end = System.nanoTime() + (long) (seconds * 1e9);
      int started = 0;
      String path = "\"$user\", public";  // not reported by PostgreSQL 15, carried by Keel
      for (int i = 0; seconds > 0 ? System.nanoTime() < end : i < iterations; i++) {
        started = i + 1;
        dbl.setInt(1, i);
        long got = single(dbl);
        check(got == 2L * i, "w" + w + " i" + i + ": doubled " + got);

        c.setAutoCommit(false);
        ins.setString(1, DRIVER);
        ins.setInt(2, w);
        ins.setInt(3, i);
        ins.executeUpdate();
        cnt.setString(1, DRIVER);
        cnt.setInt(2, w);
        long n = single(cnt);
        c.commit();
        c.setAutoCommit(true);
        check(n == i + 1, "w" + w + " i" + i + ": " + n + " rows in the transaction");

        if (i % 5 == 0) {
          c.setAutoCommit(false);
          ins.setString(1, DRIVER);
          ins.setInt(2, w);
          ins.setInt(3, -1 - i);
          ins.executeUpdate();
          div.setInt(1, 0);
          try {
            single(div);
            check(false, "w" + w + " i" + i + ": division by zero succeeded");
          } catch (SQLException e) {
            check("22012".equals(e.getSQLState()), "w" + w + " i" + i + ": " + e.getSQLState()
                + " " + e.getMessage());
          }
          c.rollback();
          c.setAutoCommit(true);
        }

        if (i % 7 == 0) {
          String name = "compat-" + DRIVER + "-" + w + "-" + i;
          try (Statement st = c.createStatement()) {
            st.execute("SET application_name = '" + name + "'");
            try (ResultSet rs = st.executeQuery("SHOW application_name")) {
              rs.next();
              String shown = rs.getString(1);
              check(name.equals(shown),
                  "w" + w + " i" + i + ": application_name " + shown + ", want " + name);
            }
          }
        }

        if (i % 4 == 1) {
          // Three values in turn: with prepareThreshold=1 every distinct text is a named
          // statement, which pgJDBC closes only once the garbage collector finds it.
          path = "compat_" + w + "_" + (i / 4 % 3) + ", public";
          try (Statement st = c.createStatement()) {
            st.execute("SET search_path = " + path);
          }
        }
        try (Statement st = c.createStatement();
            ResultSet rs = st.executeQuery("SHOW search_path")) {
          rs.next();
          String shown = rs.getString(1);
          check(path.equals(shown), "w" + w + " i" + i + ": search_path " + shown + ", want " + path);
        }
      }
      try (PreparedStatement fin = c.prepareStatement(
               "SELECT count(*) FILTER (WHERE i >= 0), count(*) FILTER (WHERE i < 0) "
               + "FROM compat_rows WHERE driver = ? AND worker = ?")) {
        fin.setString(1, DRIVER);
        fin.setInt(2, w);
        try (ResultSet rs = fin.executeQuery()) {
          rs.next();
          long kept = rs.getLong(1);
          long undone = rs.getLong(2);
          check(kept == started && undone == 0,
              "w" + w + ": rows kept " + kept + ", rolled back kept " + undone);
        }
      }
    } catch (SQLException e) {
      check(false, "w" + w + ": " + e.getSQLState() + " " + e.getMessage());
    }
  }

  public static void main(String[] args) throws InterruptedException {
    int workers = Integer.parseInt(env("COMPAT_WORKERS", "4"));
    int iterations = Integer.parseInt(env("COMPAT_ITERATIONS", "40"));
    double seconds = Double.parseDouble(env("COMPAT_SECONDS", "0"));
    List<Thread> threads = new ArrayList<>();
    for (int w = 0; w < workers; w++) {
      final int id = w;
      Thread t = new Thread(() -> worker(id, iterations, seconds));
      threads.add(t);
      t.start();
    }
    for (Thread t : threads) {
      t.join();
    }
    synchronized (PROBLEMS) {
      for (String p : PROBLEMS.subList(0, Math.min(20, PROBLEMS.size()))) {
        System.err.println("compat " + DRIVER + ": " + p);
      }
    }
    System.out.println("compat " + DRIVER + ": ops=" + OPS.get() + " failed=" + FAILED.get());
    System.exit(FAILED.get() == 0 && OPS.get() > 0 ? 0 : 1);
  }
}
