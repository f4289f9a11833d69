// SPDX-License-Identifier: GPL-2.0-only
/*
 * A deliberately broken driver for hvblob's bridge tests: its ioctl dereferences NULL when
 * asked to (command 0x4e55), so the test can check that an oops becomes a finding.
 */
#include <linux/hyperv.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

static long oops_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	volatile int *p = NULL;

	if (cmd == 0x4e55)
		return *p;
	return -EINVAL;
}

static const struct file_operations oops_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = oops_ioctl,
};

static struct miscdevice oops_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "azure_blob",
	.fops = &oops_fops,
};

static int oops_probe(struct hv_device *hdev, const struct hv_vmbus_device_id *id)
{
	return misc_register(&oops_misc);
}

static int oops_remove(struct hv_device *hdev)
{
	misc_deregister(&oops_misc);
	return 0;
}

static const struct hv_vmbus_device_id oops_ids[] = {
	{ HV_AZURE_BLOB_GUID },
	{ },
};

static struct hv_driver oops_drv = {
	.name = "oops",
	.id_table = oops_ids,
	.probe = oops_probe,
	.remove = oops_remove,
};

static int __init oops_init(void)
{
	return vmbus_driver_register(&oops_drv);
}

static void __exit oops_exit(void)
{
	vmbus_driver_unregister(&oops_drv);
}

module_init(oops_init);
module_exit(oops_exit);
MODULE_LICENSE("GPL");
