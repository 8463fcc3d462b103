package zkcoord

import (
	"strings"
	"testing"
	"time"
)

func TestSortConfigChanges(t *testing.T) {
	got := SortConfigChanges([]string{"config_change_0000000010", "other", "config_change_0000000002", "config_change_x", "config_change_0000000009"})
	if strings.Join(got, ",") != "config_change_0000000002,config_change_0000000009,config_change_0000000010" {
		t.Fatalf("got %v", got)
	}
	c := ConfigChange{EntityPath: "users/u1/clients/c1"}
	if c.EntityType() != "users" || c.Entity() != "u1/clients/c1" {
		t.Fatalf("split %q %q", c.EntityType(), c.Entity())
	}
}

func TestIntegration_ChangeEntityConfig(t *testing.T) {
	z := startZK(t)
	s := connectT(t, z.Addr()+"/realkafka", 6*time.Second)
	ctx := testCtx(t)
	raw := rawConn(t, z.Addr())
	if err := s.CreateTopLevelPaths(ctx); err != nil {
		t.Fatal(err)
	}
	// creates the entity znode, then sets it; one notification each, in order
	if err := s.ChangeEntityConfig(ctx, ConfigTypeBroker, DefaultConfigEntity, map[string]string{"log.segment.bytes": "1000"}); err != nil {
		t.Fatal(err)
	}
	if err := s.ChangeEntityConfig(ctx, ConfigTypeBroker, DefaultConfigEntity, nil); err != nil {
		t.Fatal(err)
	}
	if d, st, _ := raw.Get("/realkafka/config/brokers/<default>"); string(d) != `{"version":1,"config":{}}` || st.Version != 1 {
		t.Fatalf("entity config %s", d)
	}
	names, w, err := s.ConfigChangeNamesW(ctx)
	if err != nil || strings.Join(names, ",") != "config_change_0000000000,config_change_0000000001" {
		t.Fatalf("names %v %v", names, err)
	}
	c, err := s.GetConfigChange(ctx, names[1])
	if err != nil || c.Seq != 1 || c.EntityPath != "brokers/<default>" || time.Since(c.Created) > time.Hour || c.Created.After(time.Now().Add(time.Minute)) {
		t.Fatalf("change %+v %v", c, err)
	}
	if d, _, _ := raw.Get("/realkafka/config/changes/" + names[0]); string(d) != `{"version":2,"entity_path":"brokers/<default>"}` {
		t.Fatalf("notification bytes %s", d)
	}
	if err := s.DeleteConfigChange(ctx, names[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConfigChange(ctx, names[0]); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	select {
	case ev := <-w:
		if ev.Path != ConfigChangesPath {
			t.Fatalf("watch event %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("no child watch event after a delete")
	}
	if _, err := s.GetConfigChange(ctx, names[0]); err == nil {
		t.Fatal("deleted notification still readable")
	}
	list, all, err := s.GetAllEntityConfigs(ctx, ConfigTypeBroker)
	if err != nil || len(list) != 1 || list[0] != "<default>" || len(all["<default>"]) != 0 {
		t.Fatalf("all %v %v %v", list, all, err)
	}
}
