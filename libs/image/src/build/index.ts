export {
  buildFat32,
  fat32Layout,
  MIN_FAT32_SECTORS,
  type FatFile,
  type Extent,
  type Fat32Spec,
} from './fat32';
export {
  espDiskKey,
  espDiskExtents,
  writeEspDisk,
  cachedEspDisk,
  ESP_DISK_LAYOUT,
  type EspDiskSpec,
} from './disk';
