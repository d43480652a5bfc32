package azuretype

import "testing"

func TestFromID(t *testing.T) {
	tests := []struct{ id, want string }{
		{"/subscriptions/s/resourceGroups/rg", "Microsoft.Resources/resourceGroups"},
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v", "Microsoft.Network/virtualNetworks"},
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a", "Microsoft.Network/virtualNetworks/subnets"},
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa/providers/Microsoft.EventGrid/eventSubscriptions/sub1", "Microsoft.EventGrid/eventSubscriptions"},
		{"/subscriptions/s", "Microsoft.Resources/subscriptions"},
		{"garbage", ""},
	}
	for _, tc := range tests {
		if got := FromID(tc.id); got != tc.want {
			t.Errorf("FromID(%q) = %q, want %q", tc.id, got, tc.want)
		}
	}
}

func TestMapping(t *testing.T) {
	if tf, ok := Terraform("microsoft.network/VIRTUALNETWORKS"); !ok || tf != "azurerm_virtual_network" {
		t.Errorf("Terraform = %q %v", tf, ok)
	}
	if arm, ok := ARM("azurerm_linux_virtual_machine"); !ok || arm != "Microsoft.Compute/virtualMachines" {
		t.Errorf("ARM(alias) = %q %v", arm, ok)
	}
	if Canonical("azurerm_windows_function_app") != "azurerm_function_app" {
		t.Error("Canonical alias")
	}
	if len(All()) < 16 {
		t.Errorf("%d types", len(All()))
	}
	if SubscriptionOf("/subscriptions/abc/resourceGroups/x") != "abc" {
		t.Error("SubscriptionOf")
	}
}
